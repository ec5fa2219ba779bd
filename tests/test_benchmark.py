"""The benchmark's floor: the FLOPs it counts and the products it replays, against a hand count;
the products carried to another process, and the floor sampled during an epoch."""
import json
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
from m2_epoch import (Floor, FloorDuringEpochs, calls_from_json, describe_calls,  # noqa: E402
                      record_arithmetic, record_step)

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
    flops, calls = record_step(one_layer_step(), (torch.randn(B, IN, requires_grad=True),))
    assert flops == pytest.approx(3 * 2 * B * IN * OUT)
    floor = Floor(calls, "cpu")
    assert len(floor.replay) == 3 and floor.block(rounds=3) > 0


def test_recorded_products_survive_the_trip_to_another_process():
    calls = record_arithmetic(one_layer_step(), (torch.randn(B, IN, requires_grad=True),))
    back = calls_from_json(json.loads(json.dumps(describe_calls(calls))))
    assert [(str(f), a, k) for f, a, k in back] == [(str(f), a, k) for f, a, k in calls]
    assert Floor(back, "cpu").replay[0][0] is calls[0][0]


class CountingFloor:
    def __init__(self):
        self.replays = 0

    def once(self):
        self.replays += 1

    def timed(self, repeats):
        self.replays += repeats
        return 0.5


def test_the_floor_is_sampled_every_tenth_step_and_scaled_to_the_epoch():
    floor = CountingFloor()
    sampler = FloorDuringEpochs(floor, every=10)
    sampler.new_epoch()
    for _ in range(35):
        sampler.after_step()
    # samples after steps 10, 20 and 30: one warm-up replay and two timed each
    assert len(sampler.samples) == 3 and floor.replays == 9
    assert sampler.epoch_seconds(499) == pytest.approx(0.5 * 499)
    sampler.new_epoch()
    assert sampler.samples == [] and sampler.seconds == 0.0
