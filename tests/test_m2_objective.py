"""The M2 objective against an independent hand computation on a tiny network.

The hand computation uses plain tensor formulas for every log-density; only the noise of
z ~ q(z | x, y) is shared, by reseeding the RNG and drawing it with the same call as the guide.
"""
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from torch.nn import functional as F

from pyross.models import M2
from pyross.nets import one_hot
from pyross.objectives import SemiSupervisedELBO

K, D, Z, B = 3, 6, 2, 5


@pytest.fixture
def setup():
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = M2(x_dim=D, num_classes=K, z_dim=Z, hidden=(4,))
    x = torch.bernoulli(torch.full((B, D), 0.5))
    y = torch.tensor([0, 1, 2, 1, 0])
    objective = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000)
    return model, objective, x, y


def log_normal(v, loc, scale):
    return (-0.5 * ((v - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def hand_elbo(model, x, y_onehot, seed):
    """log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y), z drawn with noise from ``seed``.

    ``y_onehot`` may carry a leading class dimension (all classes at once).
    """
    loc, scale = model.encoder_z(x, y_onehot)
    torch.manual_seed(seed)
    z = dist.Normal(loc, scale).rsample()
    logits = model.decoder(y_onehot, z)
    log_px = (x * logits - F.softplus(logits)).sum(-1)
    log_pz = log_normal(z, torch.zeros_like(z), torch.ones_like(z))
    return log_px - math.log(K) + log_pz - log_normal(z, loc, scale)


def test_unlabelled_bound_is_sum_over_classes_plus_entropy(setup):
    model, objective, x, _ = setup
    torch.manual_seed(7)
    pyro_loss = objective.unlabelled_bound(model.model, objective.guide, x)

    every_class = torch.eye(K).unsqueeze(1)  # (K, 1, K), broadcast against the batch
    elbo_per_class = hand_elbo(model, x, every_class, seed=7)  # (K, B): -L(x, y) for each y
    q = F.softmax(model.encoder_y(x), dim=-1)  # (B, K)
    entropy = -(q * q.log()).sum(-1)
    u = (q.T * elbo_per_class).sum(0) + entropy  # -U(x)
    assert torch.allclose(pyro_loss, -u.mean(), atol=1e-5)
    # the bound differs without the entropy term: the test can tell
    assert not torch.allclose(pyro_loss, -(u - entropy).mean(), atol=1e-3)


def test_labelled_bound_uses_the_given_labels(setup):
    model, objective, x, y = setup
    torch.manual_seed(3)
    pyro_loss = objective.labelled_bound(model.model, objective.guide, x, y)
    hand = -hand_elbo(model, x, one_hot(y, K), seed=3).mean()
    assert torch.allclose(pyro_loss, hand, atol=1e-5)
    other = -hand_elbo(model, x, one_hot((y + 1) % K, K), seed=3).mean()
    assert not torch.allclose(pyro_loss, other, atol=1e-3)


def test_labelled_batch_never_enumerates(setup):
    model, objective, x, y = setup
    enumerated = poutine.enum(objective.guide, first_available_dim=-2)
    guide_trace = poutine.trace(enumerated).get_trace(x, y)
    assert "y" not in guide_trace.nodes  # y is given, not inferred
    assert guide_trace.nodes["z"]["value"].shape == (B, Z)  # no enumeration dimension
    model_trace = poutine.trace(poutine.replay(model.model, trace=guide_trace)).get_trace(x, y)
    assert model_trace.nodes["y"]["is_observed"]
    assert torch.equal(model_trace.nodes["y"]["value"], y)


def test_unlabelled_batch_enumerates_y_in_parallel(setup):
    model, objective, x, _ = setup
    guide_trace = poutine.trace(poutine.enum(objective.guide, first_available_dim=-2)).get_trace(x)
    assert guide_trace.nodes["y"]["infer"]["enumerate"] == "parallel"
    assert guide_trace.nodes["y"]["value"].shape == (K, 1)
    assert guide_trace.nodes["z"]["value"].shape == (K, B, Z)


def classifier_grad(model):
    return sum(p.grad.abs().sum() for p in model.encoder_y.parameters() if p.grad is not None)


def test_gradient_reaches_the_classifier_from_the_unlabelled_bound_only(setup):
    model, objective, x, y = setup
    objective.labelled_bound(model.model, objective.guide, x, y).backward()
    assert classifier_grad(model) == 0  # q(y|x) plays no part in the labelled bound
    objective.unlabelled_bound(model.model, objective.guide, x).backward()
    assert classifier_grad(model) > 0


def test_step_loss_is_the_sum_of_the_terms_with_kingmas_weight(setup):
    model, objective, x, y = setup
    assert objective.classifier_weight == pytest.approx(0.1 * 1000 / 10)
    torch.manual_seed(1)
    total = objective(model.model, objective.guide, (x, y), x)
    torch.manual_seed(1)
    parts = objective.labelled_bound(model.model, objective.guide, x, y)
    parts = parts + 10.0 * F.cross_entropy(model.classifier(x), y)
    parts = parts + objective.unlabelled_bound(model.model, objective.guide, x)
    assert torch.allclose(total, parts, atol=1e-5)
    assert set(objective.terms) == {"labelled", "unlabelled", "classifier"}


def test_labelled_bound_with_its_share_of_the_data_is_scaled_by_n_labelled_over_n(setup):
    model, step, x, y = setup
    share = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000, labelled_bound="share")
    assert share.classifier_weight == step.classifier_weight  # only the labelled bound's weight changes
    losses = {}
    for name, objective in (("step", step), ("share", share)):
        torch.manual_seed(1)
        losses[name] = objective(model.model, objective.guide, (x, y), x)
    labelled = hand_elbo(model, x, one_hot(y, K), seed=1)  # noise drawn first, as the labelled bound does
    assert step.terms["labelled"] == pytest.approx(-labelled.mean().item(), abs=1e-5)
    assert share.terms == pytest.approx(step.terms, abs=1e-5)  # logged unweighted
    assert (losses["step"] - losses["share"]).item() == pytest.approx((1 - 10 / 1000) * step.terms["labelled"],
                                                                      abs=1e-4)
    with pytest.raises(ValueError, match="labelled_bound"):
        SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000, labelled_bound="half")


def test_classifier_weight_per_pass_gives_j_alpha_over_an_epoch():
    # J^alpha = sum_l L + sum_u U + alpha N mean_l(-log q(y|x)). An epoch's steps add the means of
    # the unlabelled batches, i.e. sum_u U / |B_u|, so, for J^alpha, the classifier terms of the
    # epoch's steps must add up to alpha N mean_l(-log q(y|x)) / |B_u|.
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = M2(x_dim=D, num_classes=K, z_dim=Z, hidden=(4,))
    n_l, n_u, b, alpha = 10, 20, 5, 0.1
    x_l, x_u = torch.bernoulli(torch.full((n_l, D), 0.5)), torch.bernoulli(torch.full((n_u, D), 0.5))
    y_l = torch.arange(n_l) % K
    j_alpha = alpha * (n_l + n_u) * F.cross_entropy(model.classifier(x_l), y_l).item() / b
    labelled = torch.arange(n_l).split(b)  # the labelled batches cycle: steps 0-3 read 0, 1, 0, 1
    for weighting, times in (("pass", 1.0), ("step", n_u / n_l)):
        objective = SemiSupervisedELBO(model, alpha, n_l, n_l + n_u, classifier_weight=weighting)
        total = 0.0
        for step, u in enumerate(torch.arange(n_u).split(b)):
            i = labelled[step % len(labelled)]
            loss = objective(model.model, objective.guide, (x_l[i], y_l[i]), x_u[u]).item()
            total += loss - objective.labelled_weight * objective.terms["labelled"] - objective.terms["unlabelled"]
        assert total == pytest.approx(times * j_alpha, rel=1e-4), weighting
    # without unlabelled images there is no pass to share: both weigh alpha N / N_l
    assert SemiSupervisedELBO(model, alpha, n_l, n_l, classifier_weight="pass").classifier_weight == alpha
    with pytest.raises(ValueError, match="classifier_weight"):
        SemiSupervisedELBO(model, alpha, n_l, n_l + n_u, classifier_weight="epoch")


def test_training_steps_reduce_the_loss(setup):
    model, objective, x, y = setup
    from pyross.objectives import make_svi
    svi = make_svi(objective, lr=1e-2)
    pyro.set_rng_seed(0)
    first = sum(svi.step((x, y), x) for _ in range(5)) / 5
    for _ in range(200):
        svi.step((x, y), x)
    last = sum(svi.step((x, y), x) for _ in range(5)) / 5
    assert last < first


def test_convolutional_classifier_reads_flattened_images():
    model = M2(x_dim=784, num_classes=10, z_dim=2, hidden=(8,), classifier="cnn", image_shape=(1, 28, 28))
    assert model.classifier(torch.rand(3, 784)).shape == (3, 10)
