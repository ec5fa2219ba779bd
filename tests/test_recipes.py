"""A model registered from outside pyross can have stages: a VAE first, then an M2 variant on
its codes, declared by a recipe and nothing else. It trains through the CLI, resumes after a
Ctrl-C in either stage, and is evaluated and used by ``predict``."""
import json
import signal
from dataclasses import replace

import pytest
import torch
from PIL import Image

from pyross.models import CLASSIFIERS, M1M2, MODELS, OWN_RECIPES, VAE, register
from pyross.objectives import SemiSupervisedELBO
from pyross.recipes import RECIPES, Recipe, Stage, recipe_of
from tests.test_cli import invoke

#: objective name → the step after which it sends this process a Ctrl-C (once)
STOP_AFTER = {}


class Interrupting:
    """An objective that behaves as ``objective`` but presses Ctrl-C after ``STOP_AFTER[name]`` steps."""

    def __init__(self, objective, name):
        self.objective, self.name, self.steps = objective, name, 0

    def __getattr__(self, attribute):
        return getattr(self.objective, attribute)

    def __call__(self, *args, **kwargs):
        self.steps += 1
        if STOP_AFTER.get(self.name) == self.steps:
            del STOP_AFTER[self.name]
            signal.raise_signal(signal.SIGINT)  # the trainer saves after this step and stops
        return self.objective(*args, **kwargs)


class MeanCodeM2(M1M2):
    """M1+M2 with M2 on the means of q(z1 | x) rather than on fresh draws of z1."""

    def prepare(self, x):
        return self._kept(self.vae.encode(x))


TINY_VAE = {"z_dim": 4, "hidden": [16], "decoder_hidden": None, "activation": "softplus", "batch_norm": "none",
            "likelihood": "bernoulli", "sigma": 0.1}
#: a VAE trained first (stage 1), then M2 on the means of its code, with Kingma's objective on the M2 part
MEAN_CODE_M2 = Recipe(
    lambda net, *args, **options: SemiSupervisedELBO(net.m2, *args, **options),
    {"vae": TINY_VAE, "z_dim": 2, "hidden": [8], "decoder_hidden": [8], "classifier_hidden": [8],
     "activation": "relu", "batch_norm": "none", "lr": 1e-3, "epochs": 2, "augment": 0, "vae_epochs": 2},
    options=("alpha", "labels", "vae_epochs", "vae_run"), classifiers=("mlp",),
    stages=(Stage(model="vae", nested="vae", training={"vae_epochs": "epochs"}),))


def interrupting(recipe, name, stage_model=None):
    """``recipe`` with an objective that can press Ctrl-C (:class:`Interrupting`), and its stage's
    model renamed ``stage_model``."""
    objective = recipe.objective
    stages = tuple(replace(stage, model=stage_model) for stage in recipe.stages)
    return replace(recipe, objective=lambda *args, **options: Interrupting(objective(*args, **options), name),
                   stages=stages)


ARGS = ["--labels", "20", "--unlabelled", "60", "--batch-size", "10", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module", autouse=True)
def registered():
    """Register both models as a user would, from outside pyross; forget them afterwards."""
    # the same models, with objectives that can press Ctrl-C: a VAE under a name of its own, then MeanCodeM2
    register("codevae", VAE, "test: a VAE with an objective of its own", recipe=interrupting(RECIPES["vae"], "vae"))
    register("meancode", MeanCodeM2, "test: a VAE, then M2 on its means",
             recipe=interrupting(MEAN_CODE_M2, "m2", stage_model="codevae"))
    yield
    for name in ("codevae", "meancode"):
        del MODELS[name], OWN_RECIPES[name]
    CLASSIFIERS.remove("meancode")


def epochs(path):
    return [json.loads(line)["epoch"] for line in open(path / "metrics.jsonl")]


def test_the_recipe_is_the_models(registered):
    assert recipe_of("meancode").defaults is MEAN_CODE_M2.defaults and "meancode" not in RECIPES
    assert "meancode" in CLASSIFIERS and "codevae" not in CLASSIFIERS  # it has a classifier, the VAE not


def test_a_two_stage_model_from_outside_trains_and_is_used(mnist_dir, tmp_path):
    out = tmp_path / "run"
    result = invoke("fit", "meancode", "--data-dir", mnist_dir, "--out", out, *ARGS)
    assert result.exit_code == 0, result.output
    assert "meancode, step 1: the CODEVAE" in result.stderr
    assert epochs(out / "vae") == [1, 2] and epochs(out) == [1, 2]
    config = json.loads((out / "config.json").read_text())
    assert config["vae_epochs"] == 2 and config["model_options"]["vae"] == TINY_VAE
    assert json.loads((out / "vae" / "config.json").read_text())["model"] == "codevae"
    evaluated = invoke("evaluate", out, "--device", "cpu")
    assert evaluated.exit_code == 0 and "test accuracy" in evaluated.output
    Image.fromarray((torch.rand(28, 28) * 255).to(torch.uint8).numpy()).save(tmp_path / "digit.png")
    predicted = invoke("predict", out, tmp_path / "digit.png", "--device", "cpu")
    assert predicted.exit_code == 0, predicted.output
    header, row = predicted.stdout.strip().splitlines()
    assert header.startswith("path,prediction,p_0,") and sum(map(float, row.split(",")[2:12])) == pytest.approx(1)
    again = invoke("fit", "meancode", "--vae", out / "vae", "--data-dir", mnist_dir, "--out", tmp_path / "again",
                   *ARGS)  # the finished stage reused instead of trained
    assert again.exit_code == 0, again.output
    assert not (tmp_path / "again" / "vae").exists()
    assert json.loads((tmp_path / "again" / "config.json").read_text())["vae_run"] == str(out / "vae")


@pytest.mark.parametrize("stage", ["vae", "m2"])
def test_a_ctrl_c_in_either_stage_resumes(stage, mnist_dir, tmp_path):
    out = tmp_path / "run"
    STOP_AFTER[stage] = 10  # inside epoch 2 of the stage (8 steps an epoch for the VAE, 6 for M2)
    stopped = invoke("fit", "meancode", "--data-dir", mnist_dir, "--out", out, *ARGS)
    assert stopped.exit_code == 130 and "stopped by Ctrl-C in epoch 2" in stopped.stderr, stopped.output
    assert not (out / "summary.json").exists()
    assert (out / "vae" / "summary.json").exists() == (stage == "m2")
    resumed = invoke("fit", "meancode", "--resume", out, "--device", "cpu", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert epochs(out / "vae") == [1, 2] and epochs(out) == [1, 2]  # every epoch once
    assert (out / "summary.json").exists()
