"""Pyro's and torch's validation checks run on the first step of each epoch only, and the
steps without them are the same steps."""
import contextlib

import pyro
import torch
from pyro.infer.util import is_validation_enabled

from pyross.optim import JointAdam
from pyross.train import Trainer

from test_cli import SMALL, invoke


def test_only_the_first_step_of_each_epoch_is_validated(mnist_dir, tmp_path, monkeypatch):
    seen, step = [], JointAdam.__call__

    def spy(self, params, *args, **kwargs):
        seen.append((is_validation_enabled(), torch.distributions.Distribution._validate_args))
        return step(self, params, *args, **kwargs)
    monkeypatch.setattr(JointAdam, "__call__", spy)
    args = [a for a in SMALL if a not in ("--epochs", "1")]
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "run", "--epochs", "2", *args)
    assert result.exit_code == 0, result.output
    # 2 epochs of 3 steps; torch's own default goes with Pyro's
    assert seen == [(True, True), (False, False), (False, False)] * 2
    assert is_validation_enabled() and torch.distributions.Distribution._validate_args  # restored


def test_steps_without_the_checks_are_the_same_steps(mnist_dir, tmp_path, monkeypatch):
    def weights(name):
        result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / name, *SMALL)
        assert result.exit_code == 0, result.output
        return torch.load(tmp_path / name / "last.pt", weights_only=False)["model"]

    fast = weights("fast")
    monkeypatch.setattr(Trainer, "_checks", staticmethod(lambda first: contextlib.nullcontext()))
    checked = weights("checked")
    assert fast.keys() == checked.keys()
    assert all(torch.equal(fast[k], checked[k]) for k in fast)
    assert pyro.infer.util.is_validation_enabled()
