"""--precision bfloat16: the networks' products in bfloat16, what the model code sees in float32."""
import json

import pyro
import pytest
import torch
from torch import nn

from pyross.errors import PyrossError
from pyross.models import M2
from pyross.objectives import SemiSupervisedELBO
from pyross.precision import Precision

from test_cli import SMALL, invoke


def tiny_m2():
    torch.manual_seed(0)
    return M2(x_dim=12, num_classes=3, z_dim=2, hidden=(8,))


def batch():
    torch.manual_seed(1)
    return (torch.bernoulli(torch.full((5, 12), 0.5)), torch.randint(3, (5,))), torch.bernoulli(torch.full((7, 12), 0.5))


def loss_of(model, precision):
    pyro.clear_param_store()
    objective = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=100)
    labelled, unlabelled = batch()
    pyro.set_rng_seed(2)
    with precision():
        return objective(objective.model, objective.guide, labelled, unlabelled)


def test_products_run_in_bfloat16_and_the_model_sees_float32():
    model = tiny_m2()
    precision = Precision("bfloat16", "cpu")
    precision.attach(model)
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = output.dtype
        return hook
    model.decoder.body[-1].register_forward_hook(record("inner"))  # the decoder's last linear layer
    model.decoder.register_forward_hook(record("network"))  # after the hook of attach
    reduced = loss_of(model, precision)
    assert seen == {"inner": torch.bfloat16, "network": torch.float32}
    assert reduced.dtype == torch.float32
    exact = loss_of(tiny_m2(), Precision("float32", "cpu"))
    assert reduced.item() != exact.item()  # the products were rounded ...
    assert reduced.item() == pytest.approx(exact.item(), rel=2e-2)  # ... by a little


def test_networks_return_float32_under_autocast_and_nothing_changes_outside():
    net = nn.Sequential(nn.Linear(4, 3), nn.Softplus(), nn.Linear(3, 2))
    precision = Precision("bfloat16", "cpu")
    precision.attach(net)
    x = torch.randn(5, 4)
    with precision():
        assert net(x).dtype == torch.float32
        assert torch.matmul(x, x.T).dtype == torch.bfloat16  # autocast is on
    assert net(x).dtype == torch.float32


def test_float32_attaches_nothing():
    net = nn.Linear(4, 3)
    Precision("float32", "cpu").attach(net)
    assert not net._forward_hooks and not net._forward_pre_hooks


@pytest.mark.parametrize("name, device, message", [("float16", "cpu", "for GPUs"), ("half", "cpu", "must be one of")])
def test_bad_precisions_are_errors(name, device, message):
    with pytest.raises(PyrossError, match=message):
        Precision(name, device)


def test_fit_in_bfloat16_records_it_and_resumes_with_it(mnist_dir, tmp_path):
    out = tmp_path / "bf16"
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", out, "--precision", "bfloat16", *SMALL)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["precision"] == "bfloat16"
    result = invoke("fit", "m2", "--resume", out, "--epochs", 2, "--quiet")
    assert result.exit_code == 0, result.output
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_on_a_cpu_without_its_instructions_is_a_warning(mnist_dir, tmp_path, monkeypatch, native):
    monkeypatch.setattr("pyross.precision.cpu_has_bfloat16", lambda: native)
    assert (Precision("bfloat16", "cpu").warning() is None) == native
    assert Precision("float32", "cpu").warning() is None
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "bf16", "--precision", "bfloat16", *SMALL)
    assert result.exit_code == 0, result.output
    assert ("warning: this CPU has no bfloat16 instructions" in result.output) != native
