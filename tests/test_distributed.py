"""Data-parallel training under torchrun: 2 CPU processes (gloo), a few steps."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from pyross import distributed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch has no torch.distributed")


def torchrun(*args, cwd=ROOT):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    return subprocess.run([*TORCHRUN, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_two_processes_keep_identical_parameters_equal_to_one_process(mnist_dir, tmp_path):
    """The ranks start from different weights (the broadcast must equalise them), train FF for 8
    steps on the deterministic made-up images, and end with the same parameters, which are
    those of one process taking the whole batches."""
    worker = os.path.join(ROOT, "tests", "ddp_worker.py")
    subprocess.run([sys.executable, worker, mnist_dir, tmp_path], check=True, env={**os.environ, "PYTHONPATH": ROOT})
    done = torchrun(worker, mnist_dir, tmp_path)
    assert done.returncode == 0, done.stderr
    rank0, rank1, single = (torch.load(tmp_path / f"{name}.pt") for name in ("rank0", "rank1", "single"))
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
        torch.testing.assert_close(rank0[key], single[key], rtol=0, atol=1e-6)


def test_torchrun_fit_writes_one_run_folder(mnist_dir, tmp_path):
    out = tmp_path / "run"
    done = torchrun("cli.py", "fit", "m2", "--data-dir", mnist_dir, "--labels", "20", "--unlabelled", "60",
                    "--batch-size", "20", "--hidden", "16", "--classifier", "mlp", "--classifier-hidden", "16",
                    "--decoder-hidden", "16", "--z-dim", "4", "--epochs", "2", "--device", "cpu", "--quiet",
                    "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("best validation accuracy") == 1  # rank 0 reports, rank 1 is silent
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_torchrun_batch_size_must_divide(mnist_dir, tmp_path):
    done = torchrun("cli.py", "fit", "ff", "--data-dir", mnist_dir, "--labels", "20", "--batch-size", "5",
                    "--epochs", "1", "--device", "cpu", "--quiet", "--out", tmp_path / "run")
    assert done.returncode != 0
    assert "--batch-size 5 must be a multiple of the 2 processes" in done.stderr
    assert not os.path.exists(tmp_path / "run")


def test_leaving_the_process_group(monkeypatch):
    from torch import distributed as dist
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    with socket.socket() as free:  # a port nothing else listens on
        free.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MASTER_PORT", str(free.getsockname()[1]))
    dist.init_process_group("gloo", rank=0, world_size=1)
    assert dist.is_initialized()
    distributed.leave()
    assert not dist.is_initialized()
    distributed.leave()  # outside a group: nothing to do


def test_one_process_is_not_distributed():
    assert not distributed.active() and distributed.rank() == 0 and distributed.size() == 1
    index = torch.arange(7)
    assert distributed.shard(index) is index
