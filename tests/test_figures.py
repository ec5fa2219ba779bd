"""The figure commands on small runs: each writes a PNG of the expected size; bad runs are one line."""
import pytest
from PIL import Image

from tests.test_baselines import REPRESENTATION
from tests.test_cli import SMALL, invoke


@pytest.fixture(scope="module")
def runs(mnist_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("figure-runs")
    assert invoke("fit", "m2", "--data-dir", mnist_dir, "--out", root / "m2", *SMALL).exit_code == 0
    assert invoke("fit", "vae", "--data-dir", mnist_dir, "--out", root / "vae", *REPRESENTATION).exit_code == 0
    return root


def size(path):
    with Image.open(path) as image:
        image.verify()
        return image.size


@pytest.mark.parametrize("kind, args, expected", [
    ("generate", ["--rows", "3"], (10 * 28 / 100 + 1.0, 3 * 28 / 100 + 0.8)),
    ("style-transfer", ["--rows", "4"], (11 * 28 / 100 + 1.0, 4 * 28 / 100 + 0.8)),
    ("traversal", ["--steps", "5", "--dims", "1,3", "--label", "7"], (5 * 28 / 100 + 1.0, 5 * 28 / 100 + 0.8)),
    ("reconstructions", ["--rows", "6"], (6 * 28 / 100 + 1.0, 2 * 28 / 100 + 0.8)),
    ("latent", [], (6.5, 5.5)),
    ("curves", [], (9, 3.5)),
])
def test_each_figure_of_an_m2_run(kind, args, expected, runs, mnist_dir, tmp_path):
    out = tmp_path / f"{kind}.png"
    result = invoke("figure", kind, runs / "m2", "--out", out, "--data-dir", mnist_dir, "--device", "cpu", *args)
    assert result.exit_code == 0, result.output
    assert size(out) == tuple(round(100 * v) for v in expected)  # inches at 100 dpi


def test_a_vae_run_draws_its_latent_space_and_reconstructions(runs, tmp_path):
    for kind in ("latent", "reconstructions", "curves"):
        result = invoke("figure", kind, runs / "vae", "--out", tmp_path / f"{kind}.png", "--device", "cpu")
        assert result.exit_code == 0, result.output
        size(tmp_path / f"{kind}.png")
    assert (runs / "vae" / "latent_grid.png").exists()  # written by fit, since z is 2-D


@pytest.mark.parametrize("args, message", [
    (["generate", "VAE"], "generate needs a M2 run"),
    (["traversal", "M2", "--dims", "0,9"], "--dims needs two different dimensions"),
    (["traversal", "M2", "--dims", "x"], "--dims must be two dimensions"),
    (["traversal", "M2", "--label", "10"], "--label 10 is not a class"),
    (["generate", "nowhere"], "not a pyross run folder"),
])
def test_bad_figure_requests_are_one_line(args, message, runs, tmp_path):
    kind, run, *rest = args
    path = {"VAE": runs / "vae", "M2": runs / "m2"}.get(run, tmp_path / run)
    result = invoke("figure", kind, path, "--out", tmp_path / "out.png", "--device", "cpu", *rest)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out.png").exists()
