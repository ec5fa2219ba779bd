"""FF, VAE, DAE and M1: their objectives against hand computations, M1's frozen encoder,
and each model end to end through the command line on small made-up data."""
import json
import math

import pyro
import pytest
import torch
from pyro import poutine
from torch.nn import functional as F

from pyross.models import DAE, FF, VAE
from pyross.objectives import LabelledLikelihood, Reconstruction, UnsupervisedELBO
from tests.test_cli import invoke
from tests.test_m2_objective import log_normal

PNG = b"\x89PNG\r\n\x1a\n"
TINY = ["--batch-size", "20", "--epochs", "1", "--device", "cpu", "--quiet"]
REPRESENTATION = ["--hidden", "16", "--z-dim", "2", *TINY]



def _reconstruction_and_kl(vae, x, seed, likelihood="bernoulli", sigma=None):
    """By hand: log p(x | z) at the z the guide draws with ``seed``, and KL(q(z | x) || p(z)) in closed form."""
    pyro.set_rng_seed(seed)  # the guide draws first: the same z as inside the ELBO
    z = poutine.trace(vae.guide).get_trace(x).nodes["z"]["value"]
    with torch.no_grad():
        loc, scale = vae.encoder(x)
        logits = vae.decoder(z)
        if likelihood == "bernoulli":
            log_px = (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1)
        else:
            log_px = log_normal(x, torch.sigmoid(logits), torch.tensor(sigma))
        kl = 0.5 * (loc ** 2 + scale ** 2 - 2 * scale.log() - 1).sum(-1)
    return log_px, kl, loc, scale


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_loss_is_reconstruction_plus_closed_form_kl(likelihood):
    pyro.clear_param_store()
    torch.manual_seed(0)
    vae = VAE(x_dim=6, z_dim=3, hidden=(5,), likelihood=likelihood, sigma=0.2)
    x = torch.rand(4, 6)
    if likelihood == "bernoulli":
        x = torch.bernoulli(x)
    objective = UnsupervisedELBO(vae)
    pyro.set_rng_seed(1)
    loss = objective.loss(x)
    log_px, kl, loc, scale = _reconstruction_and_kl(vae, x, 1, likelihood, 0.2)
    assert loss.item() == pytest.approx((-log_px + kl).mean().item(), rel=1e-5)
    # the closed form against a Monte Carlo estimate of KL(q || p) = E_q[log q(z) - log p(z)]
    eps = torch.randn(200_000, *loc.shape)
    samples = loc + scale * eps
    terms = log_normal(samples, loc, scale) - log_normal(samples, torch.zeros(()), torch.ones(()))
    standard_error = terms.std(0) / math.sqrt(len(eps))
    assert torch.all((terms.mean(0) - kl).abs() < 4 * standard_error)
    # and a KL formula with a wrong sign would not pass
    assert not torch.all((terms.mean(0) - 0.5 * (loc ** 2 + scale ** 2 + 2 * scale.log() - 1).sum(-1)).abs()
                         < 4 * standard_error)


def test_kl_warmup_weighs_the_kl_term_of_the_training_loss_only():
    pyro.clear_param_store()
    torch.manual_seed(0)
    vae = VAE(x_dim=6, z_dim=3, hidden=(5,))
    x = torch.bernoulli(torch.rand(4, 6))
    objective = UnsupervisedELBO(vae, kl_warmup=4)
    for epochs, beta in [(0.0, 0.0), (1.0, 0.25), (3.0, 0.75), (4.0, 1.0), (9.5, 1.0)]:
        objective.set_progress(epochs)
        assert objective.kl_weight == beta
    objective.set_progress(1.0)
    pyro.set_rng_seed(1)
    loss = objective(None, None, None, x)
    log_px, kl, _, _ = _reconstruction_and_kl(vae, x, 1)
    assert loss.item() == pytest.approx((-log_px + 0.25 * kl).mean().item(), rel=1e-5)
    assert objective.terms == {"elbo": pytest.approx(-loss.item()), "kl_weight": 0.25}
    pyro.set_rng_seed(1)  # validation: the ELBO itself
    assert objective.loss(x).item() == pytest.approx((-log_px + kl).mean().item(), rel=1e-5)
    without = UnsupervisedELBO(vae)
    without.set_progress(1.0)
    pyro.set_rng_seed(1)
    assert without(None, None, None, x).item() == pytest.approx((-log_px + kl).mean().item(), rel=1e-5)
    assert without.terms.keys() == {"elbo"}


def test_ff_loss_is_the_cross_entropy():
    pyro.clear_param_store()
    torch.manual_seed(0)
    ff = FF(x_dim=6, num_classes=3, classifier="mlp", classifier_hidden=(4,))
    x, y = torch.rand(5, 6), torch.tensor([0, 1, 2, 1, 0])
    loss = LabelledLikelihood(ff)(ff.model, ff.guide, (x, y))
    assert loss.item() == pytest.approx(F.cross_entropy(ff.net(x), y).item(), rel=1e-6)


def test_dae_loss_reconstructs_the_clean_image_from_a_corrupted_one():
    pyro.clear_param_store()
    torch.manual_seed(0)
    dae = DAE(x_dim=6, z_dim=2, hidden=(4,), noise=0.5)
    x = torch.rand(5, 6)
    torch.manual_seed(3)
    loss = Reconstruction(dae)(None, None, None, x)
    torch.manual_seed(3)
    corrupted = x + 0.5 * torch.randn_like(x)
    mean = torch.sigmoid(dae.decoder(dae.encoder(corrupted)))
    bce = -(x * mean.log() + (1 - x) * (1 - mean).log()).sum(-1).mean()
    assert loss.item() == pytest.approx(bce.item(), rel=1e-5)
    assert Reconstruction(dae)(None, None, None, x).item() != pytest.approx(loss.item())  # fresh noise


@pytest.fixture(scope="module")
def vae_run(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae"
    result = invoke("fit", "vae", "--data-dir", mnist_dir, "--out", out, "--batch-norm", "all", *REPRESENTATION)
    assert result.exit_code == 0, result.output
    return out


def test_vae_with_a_2d_latent_draws_its_latent_space(vae_run):
    for name in ("latent_means.png", "latent_grid.png"):
        assert (vae_run / name).read_bytes()[:8] == PNG
    record = json.loads((vae_run / "metrics.jsonl").read_text())
    assert {"elbo", "valid_loss", "test_loss"} <= set(record) and "valid_accuracy" not in record
    config = json.loads((vae_run / "config.json").read_text())
    assert config["n_unlabelled"] == 200 and config["n_labelled"] == 0  # every training image, no label


@pytest.mark.parametrize("model, args", [
    ("ff", ["--labels", "20", "--classifier", "mlp", "--classifier-hidden", "16"]),
    ("vae", ["--likelihood", "gaussian", "--sigma", "0.2", *REPRESENTATION[:4]]),
    ("dae", ["--noise", "0.1", *REPRESENTATION[:4]]),
    ("m1", ["--labels", "20", "--hidden", "16", "--z-dim", "3", "--classifier-hidden", "8", "--vae-epochs", "1"]),
])
def test_each_model_trains_an_epoch(model, args, mnist_dir, tmp_path):
    out = tmp_path / model
    result = invoke("fit", model, "--data-dir", mnist_dir, "--out", out, *args, *TINY)
    assert result.exit_code == 0, result.output
    for name in ("config.json", "metrics.jsonl", "best.pt", "last.pt", "summary.json"):
        assert (out / name).is_file(), name
    if model in ("ff", "m1"):
        assert invoke("evaluate", out, "--device", "cpu").exit_code == 0
        assert (out / "confusion_matrix.png").read_bytes()[:8] == PNG


def _vae_tensors(checkpoint, prefix=""):
    state = torch.load(checkpoint, weights_only=False)["model"]
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and torch.is_tensor(v)}


def test_m1_keeps_the_encoder_frozen_while_the_head_learns(vae_run, mnist_dir, tmp_path):
    """The VAE has batch norm: its weights *and* its running statistics must not move."""
    out = tmp_path / "m1"
    result = invoke("fit", "m1", "--vae", vae_run, "--data-dir", mnist_dir, "--out", out, "--labels", "20",
                    "--classifier-hidden", "8", "--lr", "0.05", *TINY[:-3], "--epochs", "2", "--device", "cpu")
    assert result.exit_code == 0, result.output
    trained_vae = _vae_tensors(vae_run / "best.pt")
    after = _vae_tensors(out / "last.pt", "vae.")
    assert trained_vae.keys() == after.keys() and any("running_mean" in k for k in after)
    for name, tensor in trained_vae.items():
        assert torch.equal(tensor, after[name]), name
    # while the head did learn: its weights differ from those of a fresh, untrained head
    head = _vae_tensors(out / "last.pt", "head.")
    pyro.set_rng_seed(0)
    from pyross.models import M1
    fresh = M1(z_dim=2, hidden=(16,), classifier_hidden=(8,), batch_norm="all").head.state_dict()
    assert any(not torch.equal(head[k], fresh[k]) for k in fresh if k in head)


@pytest.mark.parametrize("head", ["svm", "rf", "logreg"])
def test_m1_with_a_scikit_learn_head(head, vae_run, mnist_dir, tmp_path):
    out = tmp_path / head
    result = invoke("fit", "m1", "--vae", vae_run, "--classifier", head, "--data-dir", mnist_dir, "--out", out,
                    "--labels", "20", *TINY)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert 0 <= summary["test_accuracy"] <= 1 and json.loads((out / "config.json").read_text())["vae_run"]
    evaluated = invoke("evaluate", out, "--device", "cpu")
    assert evaluated.exit_code == 0 and f"test accuracy {summary['test_accuracy']:.4f}" in evaluated.output
    curves = invoke("figure", "curves", out)  # no training loss: the accuracy panel alone
    assert curves.exit_code == 0 and (out / "curves.png").exists(), curves.output


def test_m1_trains_its_vae_once_and_resumes_past_it(mnist_dir, tmp_path):
    out = tmp_path / "m1"
    args = ["--labels", "20", "--hidden", "16", "--z-dim", "3", "--classifier-hidden", "8", "--vae-epochs", "2"]
    assert invoke("fit", "m1", "--data-dir", mnist_dir, "--out", out, *args, *TINY).exit_code == 0
    vae_metrics = (out / "vae" / "metrics.jsonl").read_text()
    assert len(vae_metrics.splitlines()) == 2
    result = invoke("fit", "m1", "--resume", out, "--epochs", "2", "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    assert (out / "vae" / "metrics.jsonl").read_text() == vae_metrics  # not trained again
    assert [json.loads(line)["epoch"] for line in open(out / "metrics.jsonl")] == [1, 2]


BAD = [
    (["fit", "m2", "--noise", "0.2"], "--noise does not apply to m2"),
    (["fit", "ff", "--z-dim", "4"], "--z-dim does not apply to ff"),
    (["fit", "m2", "--classifier", "svm"], "--classifier svm is not available for m2"),
    (["fit", "m1", "--classifier", "cnn"], "--classifier cnn is not available for m1"),
    (["fit", "vae", "--sigma", "0"], "--sigma must be positive"),
    (["fit", "dae", "--noise", "-1"], "--noise must be >= 0"),
    (["fit", "vae", "--dataset", "fashion-mnst"], "did you mean 'fashion-mnist'?"),
    (["fit", "m1", "--vae", "nowhere"], "not a pyross run folder"),
    (["fit", "m2", "--vae", "nowhere"], "--vae does not apply to m2"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_nothing_written(args, message, mnist_dir, tmp_path):
    out = tmp_path / "out"
    result = invoke(*args, "--data-dir", mnist_dir, "--out", out)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_m1_refuses_a_run_that_is_not_a_finished_vae(vae_run, mnist_dir, tmp_path):
    ff = tmp_path / "ff"
    assert invoke("fit", "ff", "--data-dir", mnist_dir, "--out", ff, "--labels", "20", "--classifier", "mlp",
                  "--classifier-hidden", "4", *TINY).exit_code == 0
    result = invoke("fit", "m1", "--vae", ff, "--data-dir", mnist_dir, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "is a ff run on mnist, not a vae run" in result.stderr
    evaluated = invoke("evaluate", vae_run, "--device", "cpu")
    assert evaluated.exit_code == 2 and "does not classify" in evaluated.stderr


def test_compare_representations_writes_a_table_and_a_plot_and_resumes(mnist_dir, tmp_path):
    out = tmp_path / "study"
    args = ["compare-representations", "--dataset", "mnist", "--data-dir", mnist_dir, "--labels", "20,all",
            "--classifiers", "logreg,rf", "--z-dim", "3", "--hidden", "16", "--epochs", "1", "--device", "cpu",
            "--out", out, "--quiet"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    header, rule, *rows = (out / "representations.md").read_text().strip().splitlines()[2:]
    assert header == "| labels | vae + logreg | vae + rf | dae + logreg | dae + rf | pixels + mlp |"
    assert [row.split(" | ")[0] for row in rows] == ["| 20", "| 200"]
    assert (out / "representations.png").read_bytes()[:8] == PNG
    results = [json.loads(line) for line in open(out / "results.jsonl")]
    assert len(results) == 10 and all(0 <= r["test_accuracy"] <= 1 for r in results)
    # run again: the finished VAE and DAE are reused and every measured cell is read back, not refitted
    vae_metrics = (out / "vae" / "metrics.jsonl").read_text()
    results[0]["test_accuracy"] = 0.123456
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    again = invoke(*args)
    assert again.exit_code == 0, again.output
    assert "| 12.35 |" in (out / "representations.md").read_text()
    assert (out / "vae" / "metrics.jsonl").read_text() == vae_metrics
    assert len((out / "results.jsonl").read_text().splitlines()) == 10
    other = [a if a != "3" else "4" for a in args]  # another --z-dim in the same folder
    different = invoke(*other)
    assert different.exit_code == 2 and "other options" in different.stderr


def test_compare_representations_checks_its_options_first(mnist_dir, tmp_path):
    for args, message in ((["--labels", "20,15"], "multiple of the number of classes"),
                          (["--classifiers", "svm,knn"], "unknown classifier 'knn'")):
        result = invoke("compare-representations", "--dataset", "mnist", "--data-dir", mnist_dir, *args,
                        "--out", tmp_path / "out")
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert not (tmp_path / "out").exists()


def test_params_matches_ff_and_m1_to_m2s_classifier():
    result = invoke("params")
    assert result.exit_code == 0
    counts = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:3] for line in result.output.splitlines()[2:]}
    m2 = int(counts["m2"][0].replace(",", ""))
    assert counts["ff"][0] == counts["m2"][0] and counts["ff"][1] == "0"
    assert abs(int(counts["m1"][0].replace(",", "")) - m2) / m2 < 0.001
    assert int(counts["m2"][1].replace(",", "")) > 0


def test_report_shows_the_validation_loss_of_a_vae(vae_run):
    result = invoke("report", vae_run)
    assert result.exit_code == 0, result.output
    row = result.output.strip().splitlines()[-1]
    loss = json.loads((vae_run / "summary.json").read_text())["valid_loss"]
    assert f"| {loss:.2f} |" in row and "likelihood=bernoulli" in row
