"""Every model end to end on a GPU: fit, a figure, evaluate. Skipped without CUDA."""
import pytest
import torch

from tests.test_cli import invoke

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to PyTorch")

TINY = ["--batch-size", "20", "--epochs", "1", "--quiet"]
NETS = ["--hidden", "16", "--z-dim", "4"]
STACKED = ["--labels", "20", *NETS, "--vae-epochs", "1"]
MODELS = {
    "m2": ["--labels", "20", *NETS, "--classifier-hidden", "16", "--decoder-hidden", "16"],
    "ff": ["--labels", "20", "--classifier-hidden", "16"],
    "vae": NETS,
    "dae": NETS,
    "m1": [*STACKED, "--classifier", "svm"],
    "m1m2": [*STACKED, "--classifier-hidden", "16", "--decoder-hidden", "16", "--active-threshold", "0.01"],
}
#: a figure each model draws
FIGURES = {"m2": "generate", "vae": "reconstructions"}


@pytest.mark.parametrize("device", ["cuda", "auto"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_fit_and_use_on_the_gpu(model, device, mnist_dir, tmp_path):
    out = tmp_path / "run"
    fit = invoke("fit", model, "--data-dir", mnist_dir, "--out", out, "--device", device, *MODELS[model], *TINY)
    assert fit.exit_code == 0, fit.output
    figure = invoke("figure", FIGURES.get(model, "curves"), out, "--device", device)
    assert figure.exit_code == 0, figure.output
    if model not in ("vae", "dae"):
        evaluated = invoke("evaluate", out, "--device", device)
        assert evaluated.exit_code == 0, evaluated.output
