"""M1+M2: the stacked bound against a hand computation, the frozen M1 encoder, the CLI."""
import json
import math

import pyro
import pytest
import torch
from torch.nn import functional as F

from pyross.models import M1M2
from pyross.models.m1m2 import active_units
from pyross.errors import PyrossError
from pyross.recipes import make_objective, recipe_of
from tests.test_baselines import PNG, TINY, _vae_tensors
from tests.test_cli import invoke
from tests.test_m2_objective import log_normal

K, Z1, Z2, B = 3, 4, 2, 5



@pytest.fixture
def stacked():
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = M1M2(x_dim=6, num_classes=K, vae={"z_dim": Z1, "hidden": (5,)}, z_dim=Z2, hidden=(4,))
    z1 = model.prepare(torch.rand(B, 6))
    return model, make_objective("m1m2", model, 0.1, 10, 1000), z1


def hand_elbo(m2, z1, y_onehot, seed):
    """log p(z1|y,z2) + log p(y) + log p(z2) - log q(z2|z1,y): p(z1|y,z2) Gaussian with learned scale."""
    loc, scale = m2.encoder_z(z1, y_onehot)
    torch.manual_seed(seed)
    z2 = loc + scale * torch.randn(loc.shape)
    mean, sd = m2.decoder(y_onehot, z2)
    return (log_normal(z1, mean, sd) - math.log(K) + log_normal(z2, torch.zeros(()), torch.ones(()))
            - log_normal(z2, loc, scale))


def test_stacked_unlabelled_bound_is_sum_over_classes_plus_entropy(stacked):
    model, objective, z1 = stacked
    torch.manual_seed(7)
    loss = objective.unlabelled_bound(objective.model, objective.guide, z1)
    per_class = hand_elbo(model.m2, z1, torch.eye(K).unsqueeze(1), seed=7)  # (K, B)
    q = F.softmax(model.m2.encoder_y(z1), dim=-1)
    entropy = -(q * q.log()).sum(-1)
    assert torch.allclose(loss, -((q.T * per_class).sum(0) + entropy).mean(), atol=1e-5)
    assert not torch.allclose(loss, -(q.T * per_class).sum(0).mean(), atol=1e-3)


def test_stacked_labelled_bound_uses_the_given_labels(stacked):
    model, objective, z1 = stacked
    y = torch.tensor([0, 1, 2, 1, 0])
    torch.manual_seed(3)
    loss = objective.labelled_bound(objective.model, objective.guide, z1, y)
    assert torch.allclose(loss, -hand_elbo(model.m2, z1, F.one_hot(y, K).float(), seed=3).mean(), atol=1e-5)


def test_sites_are_named_as_in_the_paper(stacked):
    model, objective, z1 = stacked
    trace = pyro.poutine.trace(model.model).get_trace(z1, torch.zeros(B, dtype=torch.long))
    sites = [name for name, node in trace.nodes.items() if node["type"] == "sample" and name != "data"]
    assert sites == ["y", "z2", "z1"] and trace.nodes["z1"]["is_observed"]


def test_prepare_draws_a_fresh_code_each_time_near_the_mean():
    torch.manual_seed(0)
    model = M1M2(x_dim=6, vae={"z_dim": Z1, "hidden": (5,), "likelihood": "gaussian"}, z_dim=Z2, hidden=(4,))
    x = torch.rand(2000, 6)
    first, second = model.prepare(x), model.prepare(x)
    assert not torch.allclose(first, second)
    loc, scale = model.vae.encoder(x)
    assert torch.allclose(((first - loc) / scale).std(), torch.tensor(1.0), atol=0.05)


def test_grey_codes_are_drawn_from_the_features_of_the_grey_images():
    torch.manual_seed(0)
    model = M1M2(x_dim=6, vae={"z_dim": Z1, "hidden": (5,)}, z_dim=Z2, hidden=(4,), units=[3, 1], z1_from="grey")
    x = torch.rand(3000, 6)
    features = model.features(x)
    loc, scale = model.vae.encoder(x)  # of the grey levels themselves, not of a binarisation
    assert torch.allclose(features, torch.cat([loc[:, [3, 1]], scale[:, [3, 1]]], 1))
    torch.manual_seed(1)
    z1 = model.prepare(features)
    torch.manual_seed(1)
    assert torch.allclose(z1, loc[:, [3, 1]] + scale[:, [3, 1]] * torch.randn(3000, 2))
    assert torch.allclose(((z1 - loc[:, [3, 1]]) / scale[:, [3, 1]]).std(), torch.tensor(1.0), atol=0.05)
    assert model.fixed_features and not M1M2(x_dim=6, vae={"z_dim": Z1, "hidden": (5,)}).fixed_features
    with pytest.raises(ValueError, match="z1_from"):
        M1M2(x_dim=6, vae={"z_dim": Z1, "hidden": (5,)}, z1_from="gray")
    from pyross.fitting import new_config
    # the authors' code extracts the features of the grey-level images (docs/presets.md); so do the tuned defaults
    # since 2026-12-03 (docs/results.md), while a run whose config predates the option keeps the binarised draws
    assert new_config("m1m2", preset="paper")["model_options"]["z1_from"] == "grey"
    assert new_config("m1m2")["model_options"]["z1_from"] == "grey"
    assert new_config("m1m2", z1_from="binarised")["model_options"]["z1_from"] == "binarised"
    assert M1M2(x_dim=6, vae={"z_dim": Z1, "hidden": (5,)}).z1_from == "binarised"


@pytest.mark.parametrize("z1_from, encoder_runs_per_step", [("binarised", 2), ("grey", 0)])
def test_with_grey_codes_the_steps_never_run_the_encoder(z1_from, encoder_runs_per_step):
    from pyross.data import SemiSupervisedData, Split
    from pyross.train import Trainer

    torch.manual_seed(0)
    split = lambda n, y=None: Split(torch.rand(n, 6), torch.arange(n) % K if y is None else torch.full((n,), y))
    data = SemiSupervisedData(split(6), split(40, -1), split(9), split(9))
    model = M1M2(x_dim=6, num_classes=K, vae={"z_dim": Z1, "hidden": (5,)}, z_dim=Z2, hidden=(4,), z1_from=z1_from)
    objective = make_objective("m1m2", model, 0.1, 6, 46)
    trainer = Trainer(model, objective, data, None, batch_size=4, lr=1e-3, seed=0, progress=False)
    runs = []
    model.vae.encoder.register_forward_hook(lambda module, args, out: runs.append(len(args[0])))
    trainer.train_epoch(1)  # 10 steps, each a labelled and an unlabelled batch
    assert len(runs) == encoder_runs_per_step * trainer.steps_per_epoch
    if z1_from == "grey":  # the features were extracted once, of the grey images themselves
        loc, scale = model.vae.encoder(data.unlabelled.x)
        assert torch.allclose(trainer.inputs.unlabelled.x, torch.cat([loc, scale], 1))
        with pytest.raises(PyrossError, match="--augment"):
            Trainer(model, objective, data, None, batch_size=4, lr=1e-3, seed=0, augment=2, image_shape=(1, 2, 3))


def test_active_units_are_those_whose_means_vary():
    torch.manual_seed(0)
    spread = torch.tensor([1.0, 0.05, 0.3, 0.0, 0.11])
    means = torch.randn(5000, 5) * spread + 2.0  # a common offset does not make a unit active
    assert active_units(means) == [0, 2, 4]
    assert active_units(means, 0.2) == [0, 2]
    assert active_units(means, 0.0) == [0, 1, 2, 4]


def test_m2_models_only_the_kept_units():
    torch.manual_seed(0)
    model = M1M2(x_dim=6, vae={"z_dim": Z1, "hidden": (5,), "likelihood": "gaussian"}, z_dim=Z2, hidden=(4,),
                 units=[3, 1])
    x = torch.rand(7, 6)
    torch.manual_seed(1)
    z1 = model.prepare(x)
    torch.manual_seed(1)
    loc, scale = model.vae.encoder(x)
    assert torch.allclose(z1, (loc + scale * torch.randn_like(loc))[:, [3, 1]])
    assert model.m2.x_dim == 2
    assert torch.allclose(model.classifier(x), model.m2.classifier(loc[:, [3, 1]]))
    with pytest.raises(ValueError, match="indices of z1"):
        M1M2(x_dim=6, vae={"z_dim": Z1, "hidden": (5,)}, units=[4])


def test_m1m2_trains_with_its_vae_frozen_and_classifies_images(mnist_dir, tmp_path):
    vae = tmp_path / "vae"
    assert invoke("fit", "vae", "--data-dir", mnist_dir, "--out", vae, "--hidden", "16", "--z-dim", "4",
                  "--batch-norm", "all", *TINY).exit_code == 0
    out = tmp_path / "m1m2"
    result = invoke("fit", "m1m2", "--vae", vae, "--data-dir", mnist_dir, "--out", out, "--labels", "20",
                    "--hidden", "8", "--classifier-hidden", "8", "--decoder-hidden", "8", "--z-dim", "2",
                    "--lr", "0.01", *TINY)
    assert result.exit_code == 0, result.output
    trained, after = _vae_tensors(vae / "best.pt"), _vae_tensors(out / "last.pt", "vae.")
    assert trained.keys() == after.keys() and all(torch.equal(trained[k], after[k]) for k in trained)
    record = json.loads((out / "metrics.jsonl").read_text())
    assert {"labelled", "unlabelled", "classifier", "valid_accuracy"} <= set(record)
    config = json.loads((out / "config.json").read_text())
    assert config["model_options"]["vae"]["z_dim"] == 4 and config["vae_run"]
    # M2 models the units whose means vary over the training images, chosen once and recorded
    units = config["model_options"]["units"]
    assert units and units == sorted(set(units)) and "active units of z1" in result.stderr
    assert config["data_source"] and config["active_threshold"] == 0.1
    assert config["labelled_bound"] == "share"  # the labelled bound with its share of the data, as in the paper
    assert torch.load(out / "best.pt")["model"]["m2.encoder_y.input.parts.0.weight"].shape[1] == len(units)
    evaluated = invoke("evaluate", out, "--device", "cpu")
    assert evaluated.exit_code == 0 and (out / "confusion_matrix.png").read_bytes()[:8] == PNG


def test_m1m2_trains_its_own_vae_or_takes_an_m1_runs(mnist_dir, tmp_path):
    out = tmp_path / "m1m2"
    small = ["--labels", "20", "--hidden", "8", "--classifier-hidden", "8", "--decoder-hidden", "8", "--z-dim", "2",
             "--active-threshold", "0"]  # a VAE of one epoch may have no active unit
    assert invoke("fit", "m1m2", "--data-dir", mnist_dir, "--out", out, *small, "--vae-epochs", "1",
                  "--kl-warmup", "2", "--precision", "bfloat16", *TINY).exit_code == 0
    assert (out / "vae" / "summary.json").is_file()
    # the VAE trains in the run's precision too
    assert json.loads((out / "vae" / "config.json").read_text())["precision"] == "bfloat16"
    # its VAE is trained with the KL warm-up: over the 10 steps of epoch 1 of 2, beta = (step - 1) / 20
    assert json.loads((out / "vae" / "config.json").read_text())["kl_warmup"] == 2
    record = json.loads((out / "vae" / "metrics.jsonl").read_text())
    assert record["kl_weight"] == pytest.approx(sum(s / 20 for s in range(10)) / 10)
    m1 = tmp_path / "m1"
    assert invoke("fit", "m1", "--vae", out / "vae", "--data-dir", mnist_dir, "--out", m1, "--labels", "20",
                  *TINY).exit_code == 0
    again = invoke("fit", "m1m2", "--m1", m1, "--data-dir", mnist_dir, "--out", tmp_path / "again", *small, *TINY)
    assert again.exit_code == 0, again.output
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert config["vae_run"] == str(out / "vae") and config["model_options"]["units"] is None
    assert config["kl_warmup"] == 2 and config["vae_epochs"] == 1  # as the VAE it reuses was trained
    none_active = invoke("fit", "m1m2", "--m1", m1, "--data-dir", mnist_dir, "--out", tmp_path / "none", *small[:-1],
                         "100", *TINY)
    assert none_active.exit_code == 2 and "no unit of z1 is active" in none_active.stderr
    wrong = invoke("fit", "m1m2", "--m1", out, "--data-dir", mnist_dir, "--out", tmp_path / "wrong")
    assert wrong.exit_code == 2 and "--m1" in wrong.stderr and "not a vae run" in wrong.stderr
    # predict works for M1 and M1+M2 too: a 28x28 PNG in, one row with probabilities out
    from PIL import Image
    Image.fromarray((torch.rand(28, 28) * 255).to(torch.uint8).numpy()).save(tmp_path / "digit.png")
    for run in (m1, tmp_path / "again"):
        predicted = invoke("predict", run, tmp_path / "digit.png", "--device", "cpu")
        assert predicted.exit_code == 0, predicted.output
        header, row = predicted.stdout.strip().splitlines()
        assert header.startswith("path,prediction,p_0,") and sum(map(float, row.split(",")[2:12])) == pytest.approx(1, abs=1e-4)


def test_preset_pi_is_the_tuned_defaults_with_the_papers_alpha_a_half_kl_weight_z2_16_and_binarised_draws():
    from pyross.fitting import new_config
    tuned, pi = new_config("m1m2"), new_config("m1m2", preset="pi")
    assert (tuned["alpha"], tuned["kl_warmup"]) == (0.5, 10)
    assert {k: v for k, v in pi.items() if tuned.get(k) != v} == {"alpha": 0.1, "kl_warmup": 80, "preset": "pi",
                                                                  "overrides": {}, "model_options": pi["model_options"]}
    changed = {k: v for k, v in pi["model_options"].items() if tuned["model_options"][k] != v}
    assert changed == {"z_dim": 16, "z1_from": "binarised"}  # M2's part; its VAE's options are the tuned ones
    vae = recipe_of("m1m2").stages[0].run_options(pi)  # the warm-up is the VAE stage's, not the M2 part's
    assert (vae["kl_warmup"], vae["epochs"], vae["lr"]) == (80, 40, 1e-3)  # so its KL weight ends at 40/80
    given = new_config("m1m2", preset="pi", alpha=0.5)  # the command line overrides the preset
    assert given["alpha"] == 0.5 and given["overrides"] == {"alpha": 0.5}


def test_the_vae_trains_with_its_own_batch_size_where_given():
    from pyross.fitting import new_config
    stage = recipe_of("m1m2").stages[0]
    assert stage.run_options(new_config("m1m2", batch_size=50))["batch_size"] == 50  # the run's, by default
    assert stage.run_options(new_config("m1m2", batch_size=50, vae_batch_size=7))["batch_size"] == 7
    # the paper preset: the authors' batches of 499 unlabelled and 1 labelled image for M2, 100 for its VAE
    paper = new_config("m1m2", preset="paper")
    assert (paper["batch_size"], paper["labelled_batch_size"]) == (499, 1)
    assert stage.run_options(paper)["batch_size"] == 100
    # a reused VAE's config says how it was trained
    config = new_config("m1m2")
    stage.adopt(config, {"epochs": 3, "kl_warmup": 0, "batch_size": 64, "model_options": {}})
    assert config["vae_batch_size"] == 64
