"""The benchmark's floor: the FLOPs it counts and the products it replays, against a hand count."""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
from m2_epoch import measure_floor, record_arithmetic  # noqa: E402

B, IN, OUT = 8, 5, 3


def one_layer_step():
    layer = torch.nn.Linear(IN, OUT)

    def step(x):
        layer(x).square().sum().backward()
    return step


def test_a_linear_layer_step_records_its_three_products():
    calls = record_arithmetic(one_layer_step(), (torch.randn(B, IN, requires_grad=True),))
    # forward (addmm), and backward: the input's gradient and the weight's (mm each)
    assert sorted(func.overloadpacket.__name__ for func, _, _ in calls) == ["addmm", "mm", "mm"]


def test_the_floor_counts_the_flops_of_the_hand_count_and_replays_them():
    floor = measure_floor(one_layer_step(), (torch.randn(B, IN, requires_grad=True),), "cpu", rounds=3)
    assert floor["step_gflop"] * 1e9 == pytest.approx(3 * 2 * B * IN * OUT)
    assert floor["arithmetic_calls"] == 3 and floor["step_seconds"] > 0
