"""CCVAE: the supervised bound and the unlabelled ELBO against hand computations, and the CLI."""
import json
import math
import re

import pyro
import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Normal

from pyross.models import CCVAE
from pyross.objectives import CCVAEBound
from tests.test_cli import invoke
from tests.test_figures import figure_texts

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
    loss = objective.unlabelled_loss(x)

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
    assert invoke("params", out).exit_code == 0  # its classifier: the encoder and q(y | z_c)'s 2K numbers
    assert invoke("fit", "m2", "--k", "5", "--data-dir", mnist_dir).output.strip() == "Error: --k does not apply to m2"


@pytest.mark.parametrize("kind", ["latent-walk", "intervention", "generate", "reconstructions", "latent"])
def test_ccvae_pictures_through_the_cli(kind, mnist_dir, tmp_path, monkeypatch):
    out = tmp_path / "ccvae"
    assert invoke("fit", "ccvae", "--data-dir", mnist_dir, "--out", out, "--labels", "all", "--hidden", "16",
                  "--z-dim", "2", "--k", "3", "--epochs", "1", "--device", "cpu", "--quiet").exit_code == 0
    texts = figure_texts(monkeypatch)
    result = invoke("figure", kind, out, "--rows", "3", "--steps", "5", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (out / f"{kind}.png").exists()
    expected = {"latent-walk": ["z_c[0] 0", "z_c[9] 9", "the dimension swept (the rest of z kept)"],
                "intervention": ["test image 3", "image", "reconstruction", "y = 0", "y = 9"],
                "generate": ["style 3", "0", "9"], "reconstructions": ["image", "reconstruction"]}.get(kind, [])
    assert all(any(t.startswith(e) for t in texts) for e in expected), texts
    if kind == "latent-walk":  # the value of z_c[i] in each of the 10 x 5 images
        assert sum(re.fullmatch(r"-?\d+\.\d", t) is not None for t in texts) == 10 * 5


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


# --- binary attributes: MultiLabelCCVAE and the shapes dataset ---

L = 3


@pytest.fixture
def tiny_multilabel():
    from pyross.models.ccvae import MultiLabelCCVAE
    torch.manual_seed(1)
    net = MultiLabelCCVAE(x_dim=6, num_classes=L, z_dim=Z, hidden=[5], k=7)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    net.set_label_prior(torch.tensor([[1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 1]]))
    return net, torch.bernoulli(torch.full((4, 6), 0.5))


def log_prior_attributes(net, z_c, y):
    """log p(z_c | y) per image for 0/1 attributes y, dimension by dimension."""
    scale = torch.nn.functional.softplus(net.prior_raw_scale) + 1e-4
    return sum(Normal(net.prior_loc[y[..., i], i], scale[y[..., i], i]).log_prob(z_c[..., i]) for i in range(L))


def log_q_attributes(net, z_c, y):
    logits = net.classifier_scale * z_c + net.classifier_bias
    return Bernoulli(logits=logits).log_prob(y.float()).sum(-1)


def test_multilabel_supervised_bound_matches_the_papers_formula(tiny_multilabel):
    net, x = tiny_multilabel
    y = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 1, 1], [0, 0, 0]])
    pyro.set_rng_seed(4)
    bound = CCVAEBound(net).supervised_bound(x, y)

    pyro.set_rng_seed(4)  # the guide draws z_s, then z_c, then the k samples of z_c
    loc, scale = net.encoder(x)
    q_c, q_s = Normal(loc[:, :L], scale[:, :L]), Normal(loc[:, L:], scale[:, L:])
    z_s = q_s.rsample()
    z_c = q_c.rsample()
    log_qy_x = log_q_attributes(net, q_c.rsample((7,)), y).logsumexp(0) - math.log(7)
    log_px = Bernoulli(logits=net.decoder(z_c, z_s)).log_prob(x).sum(-1)
    log_ratio = (log_px + log_prior_attributes(net, z_c, y) + Normal(0, 1).log_prob(z_s).sum(-1)
                 - q_c.log_prob(z_c).sum(-1) - q_s.log_prob(z_s).sum(-1) - log_q_attributes(net, z_c, y))
    weight = torch.exp(log_q_attributes(net, z_c, y) - log_qy_x)
    log_py = Bernoulli(probs=torch.tensor([0.75, 0.25, 0.75])).log_prob(y.float()).sum(-1)
    torch.testing.assert_close(bound, weight * log_ratio + log_qy_x + log_py)


def test_multilabel_unlabelled_elbo_enumerates_each_attribute_on_its_own(tiny_multilabel):
    net, x = tiny_multilabel
    pyro.set_rng_seed(6)
    loss = CCVAEBound(net).unlabelled_loss(x)

    pyro.set_rng_seed(6)
    loc, scale = net.encoder(x)
    q_c, q_s = Normal(loc[:, :L], scale[:, :L]), Normal(loc[:, L:], scale[:, L:])
    z_s = q_s.rsample()
    z_c = q_c.rsample()
    elbo = (Bernoulli(logits=net.decoder(z_c, z_s)).log_prob(x).sum(-1) + Normal(0, 1).log_prob(z_s).sum(-1)
            - q_c.log_prob(z_c).sum(-1) - q_s.log_prob(z_s).sum(-1))
    scale_p = torch.nn.functional.softplus(net.prior_raw_scale) + 1e-4
    for i in range(L):  # 2 terms per attribute, not 2^L
        q1 = torch.sigmoid(net.classifier_scale[i] * z_c[:, i] + net.classifier_bias[i])
        for value, q in ((1, q1), (0, 1 - q1)):
            prior = Bernoulli(probs=net.label_probs[i]).log_prob(torch.tensor(float(value)))
            elbo = elbo + q * (prior + Normal(net.prior_loc[value, i], scale_p[value, i]).log_prob(z_c[:, i]) - q.log())
    torch.testing.assert_close(loss, -elbo.mean())


def test_shapes_are_deterministic_and_draw_their_attributes(tmp_path, monkeypatch):
    import numpy as np

    from pyross.data import shapes

    monkeypatch.setenv("PYROSS_CACHE", str(tmp_path))
    monkeypatch.setattr(shapes, "SIZES", {"train": 200, "valid": 50, "test": 50})
    first, second = shapes.load_shapes(), shapes.load_shapes(seed=1)
    again = shapes.render(np.array([[1, 1, 1, 1, 1, 1]]), np.random.default_rng(0))
    assert torch.equal(first.train.pixels, shapes.load_shapes().train.pixels)  # the same, from the cache too
    assert not torch.equal(first.train.pixels, second.train.pixels)
    assert torch.equal(torch.as_tensor(again), torch.as_tensor(shapes.render(np.array([[1] * 6]), np.random.default_rng(0))))
    images = first.train.x.reshape(-1, 3, 28, 28)
    y = first.train.y
    red, blue = images[:, 0].sum((1, 2)), images[:, 2].sum((1, 2))
    assert ((red > blue) == y[:, 5].bool()).all()  # "red"
    columns = images.sum((1, 2)) * torch.arange(28.0)
    centre_x = columns.sum(-1) / images.sum((1, 2, 3))
    assert ((centre_x > 13.5) == y[:, 2].bool()).all()  # "right"
    area = (images.sum(1) > 0).sum((1, 2)).float()
    filled_large = area[(y[:, 1] == 1) & (y[:, 4] == 1)].min()
    assert filled_large > area[(y[:, 1] == 0) & (y[:, 4] == 1)].max()  # "large"
    assert first.multilabel and first.class_names == shapes.ATTRIBUTES


def test_ccvae_on_shapes_through_the_cli(tmp_path, monkeypatch):
    from pyross.data import shapes

    monkeypatch.setenv("PYROSS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(shapes, "SIZES", {"train": 200, "valid": 50, "test": 50})
    ccvae, judge = tmp_path / "ccvae", tmp_path / "ff"
    fit = invoke("fit", "ccvae", "--dataset", "shapes", "--labels", "0.1", "--out", ccvae, "--hidden", "16",
                 "--z-dim", "2", "--k", "3", "--batch-size", "20", "--epochs", "1", "--device", "cpu", "--quiet")
    assert fit.exit_code == 0, fit.output
    evaluated = invoke("evaluate", ccvae, "--device", "cpu")
    assert evaluated.exit_code == 0 and "| filled |" in evaluated.output and (ccvae / "confusion_matrix.png").exists()
    for kind in ("latent-walk", "intervention", "generate"):
        assert invoke("figure", kind, ccvae, "--rows", "2", "--steps", "3", "--device", "cpu").exit_code == 0
    assert invoke("figure", "generate", ccvae, "--rows", "2", "--device", "cpu").exit_code == 0
    assert invoke("fit", "ff", "--dataset", "shapes", "--labels", "all", "--out", judge, "--classifier", "mlp",
                  "--classifier-hidden", "16", "--epochs", "1", "--device", "cpu", "--quiet").exit_code == 0
    score = invoke("intervention-score", ccvae, judge, "--images", "20", "--device", "cpu")
    assert score.exit_code == 0 and "flipped, the others kept" in score.output, score.output
    m2 = invoke("fit", "m2", "--dataset", "shapes", "--out", tmp_path / "m2", "--device", "cpu")
    assert m2.exit_code == 2 and "use ccvae" in m2.output
