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


def test_experiment_labels_in_smoke_mode_writes_a_table_with_the_paper_and_resumes(mnist_dir, tmp_path):
    out = tmp_path / "exp"
    args = ["experiment", "labels", "--models", "m2,ff", "--labels", "20,40", "--seeds", "0,1", "--smoke",
            "--dataset", "mnist", "--data-dir", mnist_dir, "--out", out, "--device", "cpu", "--quiet"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    table = (out / "table.md").read_text().splitlines()
    assert table[2] == "| labels | m2 (pyross) | M2 (paper) | ff (pyross) | NN (paper) |"
    assert table[4].startswith("| 20 | ") and "(n=2)" in table[4] and table[5].startswith("| 40 | ")
    assert size(out / "accuracy.png") == (700, 450)
    runs = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert runs[0] == "ff-labels20-unlabelledall-seed0" and len(runs) == 8
    # stop one run half-way (no summary), run again: only that one trains, from its checkpoint
    stopped = out / "m2-labels40-unlabelledall-seed1"
    (stopped / "summary.json").unlink()
    finished = (out / "ff-labels20-unlabelledall-seed0" / "metrics.jsonl").read_text()
    again = invoke(*args)
    assert again.exit_code == 0, again.output
    assert "run " + str(stopped) in again.stderr and again.stderr.count("\nrun ") + again.stderr.startswith("run ") == 1
    assert (out / "ff-labels20-unlabelledall-seed0" / "metrics.jsonl").read_text() == finished
    assert (stopped / "summary.json").exists()


def test_experiment_unlabelled_gives_every_run_the_same_steps(mnist_dir, tmp_path):
    out = tmp_path / "exp"
    result = invoke("experiment", "unlabelled", "--models", "ff,m2", "--labels", "20", "--unlabelled", "0,60",
                    "--smoke", "--dataset", "mnist", "--data-dir", mnist_dir, "--out", out, "--device", "cpu",
                    "--quiet")
    assert result.exit_code == 0, result.output
    for run in ("ff-labels20-unlabelled0-seed0", "m2-labels20-unlabelled60-seed0"):
        config = __import__("json").loads((out / run / "config.json").read_text())
        assert config["steps_per_epoch"] == 5
    assert "| 0 | " in (out / "table.md").read_text() and size(out / "accuracy.png") == (700, 450)


@pytest.mark.parametrize("args, message", [
    (["--models", "m2,vae"], "vae does not classify"),
    (["--models", "m3"], "unknown model 'm3'"),
    (["--labels", "20,x"], "--labels must be whole numbers"),
    (["--labels", "15"], "multiple of the number of classes"),
])
def test_bad_experiments_are_one_line(args, message, mnist_dir, tmp_path):
    result = invoke("experiment", "labels", *args, "--dataset", "mnist", "--data-dir", mnist_dir,
                    "--out", tmp_path / "exp", "--smoke")
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not (tmp_path / "exp").exists()
