"""CCVAE: the supervised bound and the unlabelled ELBO against hand computations, and the CLI."""
import json
import math

import pyro
import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Normal

from pyross.models import CCVAE
from pyross.objectives import CCVAEBound
from tests.test_cli import invoke

K, Z = 3, 2


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    net = CCVAE(x_dim=6, num_classes=K, z_dim=Z, hidden=[5], k=7)
    with torch.no_grad():  # away from the symmetric start, so that every term matters
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    net.set_label_prior(torch.tensor([0, 1, 1, 2, 2, 2]))
    x = torch.bernoulli(torch.full((4, 6), 0.5))
    return net, x


def by_hand(net, x):
    """The encoder's Gaussians and the pieces every bound uses, from the networks directly."""
    loc, scale = net.encoder(x)
    q_c, q_s = Normal(loc[:, :K], scale[:, :K]), Normal(loc[:, K:], scale[:, K:])
    return q_c, q_s


def log_prior_zc(net, z_c, y):
    """log p(z_c | y): dimension i has the 'class i' parameters if y == i, else the 'not' ones."""
    total = 0.0
    for i in range(K):
        row = (y == i).long()
        loc, scale = net.prior_loc[row, i], torch.nn.functional.softplus(net.prior_raw_scale[row, i]) + 1e-4
        total = total + Normal(loc, scale).log_prob(z_c[..., i])
    return total


def log_qy_zc(net, z_c, y):
    logits = torch.stack([net.classifier_scale[i] * z_c[..., i] + net.classifier_bias[i] for i in range(K)], -1)
    return Categorical(logits=logits).log_prob(y)


def test_supervised_bound_matches_the_papers_formula(tiny):
    net, x = tiny
    y = torch.tensor([0, 2, 1, 2])
    pyro.set_rng_seed(3)
    bound = CCVAEBound(net).supervised_bound(x, y)

    pyro.set_rng_seed(3)  # the same draws, in the same order: z_c, z_s, then the k samples of z_c
    q_c, q_s = by_hand(net, x)
    z_c, z_s = q_c.rsample(), q_s.rsample()
    z_c_k = q_c.rsample((7,))
    log_qy_x = log_qy_zc(net, z_c_k, y).logsumexp(0) - math.log(7)
    log_px = Bernoulli(logits=net.decoder(z_c, z_s)).log_prob(x).sum(-1)
    log_ratio = (log_px + log_prior_zc(net, z_c, y) + Normal(0, 1).log_prob(z_s).sum(-1)
                 - q_c.log_prob(z_c).sum(-1) - q_s.log_prob(z_s).sum(-1) - log_qy_zc(net, z_c, y))
    weight = torch.exp(log_qy_zc(net, z_c, y) - log_qy_x)
    expected = weight * log_ratio + log_qy_x + torch.tensor([1 / 6, 3 / 6, 2 / 6, 3 / 6]).log()
    torch.testing.assert_close(bound, expected)


def test_unlabelled_elbo_enumerates_the_classes(tiny):
    net, x = tiny
    objective = CCVAEBound(net)
    pyro.set_rng_seed(5)
    loss = objective.unlabelled_elbo.differentiable_loss(objective.model, objective.guide, x) / len(x)

    pyro.set_rng_seed(5)
    q_c, q_s = by_hand(net, x)
    z_c, z_s = q_c.rsample(), q_s.rsample()
    log_px = Bernoulli(logits=net.decoder(z_c, z_s)).log_prob(x).sum(-1)
    per_class = []
    for c in range(K):
        y = torch.full((len(x),), c)
        per_class.append(log_prior_zc(net, z_c, y) + net.label_probs[c].log() - log_qy_zc(net, z_c, y))
    per_class = torch.stack(per_class, -1)
    q_y = Categorical(logits=torch.stack([log_qy_zc(net, z_c, torch.full((len(x),), c)) for c in range(K)], -1)).probs
    elbo = (q_y * per_class).sum(-1) + log_px + Normal(0, 1).log_prob(z_s).sum(-1) \
        - q_c.log_prob(z_c).sum(-1) - q_s.log_prob(z_s).sum(-1)
    torch.testing.assert_close(loss, -elbo.mean())


def test_each_class_logit_reads_only_its_own_dimension(tiny):
    net, _ = tiny
    z_c = torch.randn(5, K, requires_grad=True)
    net.classify_characteristics(z_c)[:, 1].sum().backward()
    assert z_c.grad[:, [0, 2]].abs().sum() == 0 and z_c.grad[:, 1].abs().sum() > 0


def test_fit_ccvae_semi_supervised_and_evaluate(mnist_dir, tmp_path):
    out = tmp_path / "ccvae"
    result = invoke("fit", "ccvae", "--data-dir", mnist_dir, "--out", out, "--labels", "20", "--unlabelled", "60",
                    "--batch-size", "20", "--hidden", "16", "--z-dim", "3", "--k", "5", "--epochs", "1",
                    "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert {"labelled", "unlabelled", "valid_accuracy"} <= set(metrics)
    assert invoke("evaluate", out, "--device", "cpu").exit_code == 0
    assert invoke("fit", "m2", "--k", "5", "--data-dir", mnist_dir).output.strip() == "Error: --k does not apply to m2"


@pytest.mark.parametrize("kind", ["latent-walk", "intervention", "generate", "reconstructions", "latent"])
def test_ccvae_pictures_through_the_cli(kind, mnist_dir, tmp_path):
    out = tmp_path / "ccvae"
    assert invoke("fit", "ccvae", "--data-dir", mnist_dir, "--out", out, "--labels", "all", "--hidden", "16",
                  "--z-dim", "2", "--k", "3", "--epochs", "1", "--device", "cpu", "--quiet").exit_code == 0
    result = invoke("figure", kind, out, "--rows", "3", "--steps", "5", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (out / f"{kind}.png").exists()


def test_intervention_keeps_the_style_and_swaps_the_characteristics(tiny):
    from pyross.figures import intervention
    net, x = tiny
    grid = intervention(net, x, torch.Generator().manual_seed(0))
    assert grid.shape == (4, 2 + K, 6) and torch.equal(grid[:, 0], x)
    z_c, z_s = net.encode(x)
    torch.testing.assert_close(grid[:, 1], net.decode(z_c, z_s))


def test_latent_walk_changes_only_the_walked_dimension(tiny):
    from pyross.figures import latent_walk
    net, x = tiny
    captured = []
    decode = net.decode
    net.decode = lambda z_c, z_s: captured.append(z_c.clone()) or decode(z_c, z_s)
    assert latent_walk(net, x[0], steps=4).shape == (K, 4, 6)
    base = net.encode(x[:1])[0]
    for i, z_c in enumerate(captured):
        others = [j for j in range(K) if j != i]
        torch.testing.assert_close(z_c[:, others], base[:, others].expand(4, -1))
        assert z_c[:, i].diff().gt(0).all()


def test_intervention_score_reads_the_intended_class(mnist_dir, tmp_path):
    ccvae, judge = tmp_path / "ccvae", tmp_path / "ff"
    common = ["--data-dir", mnist_dir, "--labels", "all", "--epochs", "1", "--device", "cpu", "--quiet"]
    assert invoke("fit", "ccvae", "--out", ccvae, "--hidden", "16", "--z-dim", "2", "--k", "3", *common).exit_code == 0
    assert invoke("fit", "ff", "--out", judge, "--classifier", "mlp", "--classifier-hidden", "16", *common).exit_code == 0
    result = invoke("intervention-score", ccvae, judge, "--images", "30", "--device", "cpu")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| ") and "%" in line]
    assert len(rows) == 11 and "**mean**" in rows[-1]
    wrong = invoke("intervention-score", judge, judge, "--device", "cpu")
    assert wrong.exit_code == 2 and "not a ccvae run" in wrong.output


def test_intervention_score_counts_hits_per_class(tiny):
    from pyross.evaluation import intervention_score
    net, x = tiny

    class Oracle(torch.nn.Module):  # reads every image as class 1
        def classifier(self, images):
            return torch.nn.functional.one_hot(torch.ones(len(images), dtype=torch.long), K).float()

    rates = intervention_score(net, Oracle(), x, torch.Generator().manual_seed(0))
    assert rates.tolist() == [0.0, 1.0, 0.0]
