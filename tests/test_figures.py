"""The figure commands on small runs: each writes a PNG of the expected size; bad runs are one line."""
import pytest
import torch
from matplotlib.text import Text
from PIL import Image

from pyross import plots
from pyross.plots import CELL

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


@pytest.mark.parametrize("kind, args, grid, labels", [
    ("generate", ["--rows", "3"], (3, 10), ["style 1", "style 3", "class y", "0", "9"]),
    ("style-transfer", ["--rows", "4"], (4, 11), ["test image 4", "image", "7"]),
    ("traversal", ["--steps", "5", "--dims", "1,3", "--label", "7"], (5, 5), ["z[1]", "z[3]", "-5.0", "2.5", "5.0"]),
    ("reconstructions", ["--rows", "6"], (2, 6), ["image", "reconstruction", "test image 6"]),
    ("latent", [], None, []),
    ("curves", [], None, []),
])
def test_each_figure_of_an_m2_run(kind, args, grid, labels, runs, mnist_dir, tmp_path, monkeypatch):
    texts = figure_texts(monkeypatch)
    out = tmp_path / f"{kind}.png"
    result = invoke("figure", kind, runs / "m2", "--out", out, "--data-dir", mnist_dir, "--device", "cpu", *args)
    assert result.exit_code == 0, result.output
    width, height = size(out)
    if grid is not None:  # every image drawn CELL pixels wide, its rows and columns named
        assert width >= grid[1] * CELL and height >= grid[0] * CELL
        assert set(labels) <= set(texts), texts
    else:
        assert width >= 400


def figure_texts(monkeypatch):
    """The texts of the image grids saved from now on (tick labels, axis titles, cell texts)."""
    texts = []
    save = plots.save_figure

    def recording(fig, path):
        fig.canvas.draw()
        texts.extend(t.get_text() for t in fig.findobj(Text) if t.get_text())
        save(fig, path)
    monkeypatch.setattr(plots, "save_figure", recording)
    return texts


def test_an_image_grid_names_its_rows_and_columns():
    fig = plots.image_grid_figure(torch.zeros(2, 3, 28, 28), title="t", rows=["a", "b"], cols=["x", "y", "z"],
                                  row_title="rows", col_title="cols", cell_text=[["1", "2", "3"], ["4", "5", "6"]])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert (ax.get_ylabel(), ax.get_xlabel(), ax.get_title()) == ("rows", "cols", "t")
    assert sorted(t.get_text() for t in ax.texts) == list("123456")
    assert tuple(fig.get_size_inches() * fig.dpi) == (3 * CELL, 2 * CELL)  # each image CELL pixels wide
    plots.plt.close(fig)


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


def test_the_papers_table_1_as_points_beside_the_runs():
    from pyross.experiments import paper_points, paper_styles
    points = paper_points(["m2", "ff", "vae"], [100, 600, 7, "all"])
    # Kingma et al.'s Table 1, read by hand: M2 11.97 ± 1.71 and 4.94 ± 0.13 % error, NN 25.81 and 11.44 %
    assert list(points) == ["M2 (paper)", "NN (paper)"]
    flat = {name: [v for point in p for v in point] for name, p in points.items()}
    assert flat["M2 (paper)"] == pytest.approx([100, 0.8803, 0.0171, 600, 0.9506, 0.0013])
    assert flat["NN (paper)"] == pytest.approx([100, 0.7419, 0.0, 600, 0.8856, 0.0])
    styles = paper_styles(["ff", "m2", "vae"], points)
    assert styles["M2 (paper)"]["color"] == styles["m2"]["color"] == "C1" and styles["M2 (paper)"]["linestyle"] == "--"
    assert "vae (paper)" not in styles and styles["vae"] == {"color": "C2"}


def test_experiment_with_a_preset_names_its_runs_after_it_and_records_it(mnist_dir, tmp_path):
    out = tmp_path / "exp"
    result = invoke("experiment", "labels", "--models", "m2", "--preset", "pi", "--labels", "20", "--smoke",
                    "--dataset", "mnist", "--data-dir", mnist_dir, "--out", out, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    config = __import__("json").loads((out / "m2-pi-labels20-unlabelledall-seed0" / "config.json").read_text())
    # the preset's options under the smoke ones: pi's relu, batch norm and alpha, smoke's tiny networks
    net = config["model_options"]
    assert config["preset"] == "pi" and net["activation"] == "relu" and net["batch_norm"] == "all"
    assert config["alpha"] == 0.1 and net["hidden"] == [16] and config["overrides"]["epochs"] == 1
    assert (out / "table.md").read_text().startswith("Test error (%) on mnist (--preset pi)")


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
    (["--models", "m2,ff", "--preset", "pi"], "--preset does not apply to ff: it has no presets"),
    (["--preset", "fast"], "unknown preset of m2 'fast'"),
])
def test_bad_experiments_are_one_line(args, message, mnist_dir, tmp_path):
    result = invoke("experiment", "labels", *args, "--dataset", "mnist", "--data-dir", mnist_dir,
                    "--out", tmp_path / "exp", "--smoke")
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not (tmp_path / "exp").exists()
