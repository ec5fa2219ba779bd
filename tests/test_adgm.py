"""ADGM's bounds against a hand computation with plain tensor formulas, and a tiny CLI run.

Only the noise is shared with Pyro: the RNG is reseeded and ``a`` then ``z`` are drawn with the
same calls as the guide makes.
"""
import json
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from click.testing import CliRunner
from pyro import poutine
from torch.nn import functional as F

from pyross.cli import main
from pyross.models import ADGM
from pyross.nets import one_hot
from pyross.objectives import SemiSupervisedELBO

K, D, Z, A, B = 3, 6, 2, 2, 5


@pytest.fixture
def setup():
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = ADGM(x_dim=D, num_classes=K, z_dim=Z, a_dim=A, hidden=(4,))
    x = torch.bernoulli(torch.full((B, D), 0.5))
    y = torch.tensor([0, 1, 2, 1, 0])
    return model, SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000), x, y


def log_normal(v, loc, scale):
    return (-0.5 * ((v - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def hand_terms(model, x, y_onehot, seed, with_pa=True):
    """For one draw of a ~ q(a|x) and z ~ q(z|a,x,y) (noise from ``seed``): the class logits
    of q(y|a,x), log q(a|x), and log p(x|y,z) + log p(y) + log p(z) + log p(a|x,y,z) - log q(z|a,x,y),
    which may carry a leading class dimension."""
    loc_a, scale_a = model.encoder_a(x)
    torch.manual_seed(seed)
    a = dist.Normal(loc_a, scale_a).rsample()
    loc_z, scale_z = model.encoder_z(x, y_onehot, a)
    z = dist.Normal(loc_z, scale_z).rsample()
    logits = model.decoder(y_onehot, z)
    log_px = (x * logits - F.softplus(logits)).sum(-1)
    log_pz = log_normal(z, torch.zeros_like(z), torch.ones_like(z))
    log_pa = log_normal(a, *model.decoder_a(x, y_onehot, z)) if with_pa else 0.0
    inner = log_px - math.log(K) + log_pz + log_pa - log_normal(z, loc_z, scale_z)
    return model.encoder_y(x, a), log_normal(a, loc_a, scale_a), inner


@pytest.mark.parametrize("with_pa", [True, False])
def test_unlabelled_bound_sums_the_classes_at_one_draw_of_a(setup, with_pa):
    model, objective, x, _ = setup
    torch.manual_seed(7)
    pyro_loss = objective.unlabelled_bound(model.model, objective.guide, x)
    logits, log_qa, inner = hand_terms(model, x, torch.eye(K).unsqueeze(1), seed=7, with_pa=with_pa)
    q = F.softmax(logits, dim=-1)  # (B, K)
    elbo = (q.T * inner).sum(0) - (q * q.log()).sum(-1) - log_qa
    # the hand bound with p(a | x, y, z) is Pyro's; without it, it is not: the test can tell
    assert torch.allclose(pyro_loss, -elbo.mean(), atol=1e-5) == with_pa


def test_labelled_bound_uses_the_given_labels(setup):
    model, objective, x, y = setup
    torch.manual_seed(3)
    pyro_loss = objective.labelled_bound(model.model, objective.guide, x, y)
    _, log_qa, inner = hand_terms(model, x, one_hot(y, K), seed=3)
    assert torch.allclose(pyro_loss, -(inner - log_qa).mean(), atol=1e-5)
    _, log_qa, inner = hand_terms(model, x, one_hot((y + 1) % K, K), seed=3)
    assert not torch.allclose(pyro_loss, -(inner - log_qa).mean(), atol=1e-3)


def test_a_is_drawn_once_per_image_and_z_once_per_class(setup):
    model, objective, x, _ = setup
    guide_trace = poutine.trace(poutine.enum(objective.guide, first_available_dim=-2)).get_trace(x)
    assert guide_trace.nodes["a"]["value"].shape == (B, A)
    assert guide_trace.nodes["y"]["value"].shape == (K, 1)
    assert guide_trace.nodes["z"]["value"].shape == (K, B, Z)
    model_trace = poutine.trace(poutine.replay(model.model, trace=guide_trace)).get_trace(x)
    model_trace.compute_log_prob()
    assert model_trace.nodes["a"]["log_prob"].shape == (K, B)  # p(a | x, y, z) for every class


def test_classifier_draws_a_in_training_and_takes_its_mean_otherwise(setup):
    model, _, x, _ = setup
    model.train()
    assert not torch.allclose(model.classifier(x), model.classifier(x))
    model.eval()
    assert torch.equal(model.classifier(x), model.encoder_y(x, model.encoder_a(x)[0]))


def test_fit_adgm_through_the_command_line(mnist_dir, tmp_path):
    out = tmp_path / "adgm"
    result = CliRunner().invoke(main, ["fit", "adgm", "--data-dir", mnist_dir, "--out", str(out), "--labels", "20",
                                       "--unlabelled", "100", "--batch-size", "20", "--hidden", "16", "--z-dim", "2",
                                       "--a-dim", "3", "--epochs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.load(open(out / "config.json"))
    assert config["model"] == "adgm" and config["model_options"]["a_dim"] == 3
    assert 0 <= json.load(open(out / "summary.json"))["test_accuracy"] <= 1


def test_presets_paper_is_the_authors_defaults_and_pi_adds_batch_norm():
    from pyross.fitting import new_config
    defaults = new_config("adgm")
    assert new_config("adgm", preset="paper") == {**defaults, "preset": "paper", "overrides": {}}
    pi = new_config("adgm", preset="pi")
    assert pi["model_options"] == {**defaults["model_options"], "batch_norm": "all"}
    assert (pi["epochs"], pi["augment"], pi["alpha"], pi["lr"]) == (25, 0, 0.1, 3e-4)
    given = new_config("adgm", preset="pi", epochs=3)  # the command line overrides the preset
    assert given["epochs"] == 3 and given["overrides"] == {"epochs": 3}
