"""--lr-schedule cosine: the learning rate of every step against the formula."""
import math

import pytest

from pyross.optim import JointAdam

from test_cli import SMALL, invoke


@pytest.fixture
def learning_rates(monkeypatch):
    """The learning rate of every Adam step taken while the test runs."""
    seen, step = [], JointAdam.__call__

    def spy(self, params, *args, **kwargs):
        seen.append(self.lr)
        return step(self, params, *args, **kwargs)
    monkeypatch.setattr(JointAdam, "__call__", spy)
    return seen


def test_cosine_schedule_sets_each_steps_learning_rate(mnist_dir, tmp_path, learning_rates):
    args = [a for a in SMALL if a not in ("--epochs", "1")]
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "cos", "--lr-schedule", "cosine",
                    "--lr", "0.001", "--epochs", "2", *args)
    assert result.exit_code == 0, result.output
    # 2 epochs of 3 steps (60 unlabelled images, batches of 20): step k of 6 at lr 0.001 * (1 + cos(pi k / 6)) / 2
    assert learning_rates == pytest.approx([0.001 * 0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(6)])


def test_constant_keeps_the_learning_rate(mnist_dir, tmp_path, learning_rates):
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "const", "--lr", "0.001",
                    "--lr-schedule", "constant", *SMALL)
    assert result.exit_code == 0, result.output
    assert learning_rates == [0.001] * 3


def test_m2_defaults_to_cosine_and_an_average_and_other_models_to_neither():
    from pyross.fitting import new_config
    assert (new_config("m2")["lr_schedule"], new_config("m2")["ema"]) == ("cosine", 0.999)
    assert (new_config("vae")["lr_schedule"], new_config("vae")["ema"]) == ("constant", 0.0)
    assert (new_config("m2", preset="paper")["lr_schedule"], new_config("m2", preset="paper")["ema"]) == ("constant", 0.0)
