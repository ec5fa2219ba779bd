"""The command line end to end on small made-up data (see conftest.py)."""
import json
import os

import pytest
from click.testing import CliRunner

from pyross.cli import main
from pyross.fitting import new_config
from pyross.models import CLASSIFIERS, M2, MODELS, TRAINS_LIKE, register
from pyross.report import show_option

SMALL = ["--labels", "20", "--unlabelled", "60", "--batch-size", "20", "--hidden", "16", "--classifier", "mlp",
         "--classifier-hidden", "16", "--decoder-hidden", "16", "--z-dim", "4", "--epochs", "1",
         "--device", "cpu", "--quiet"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run_dir(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "m2"
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    return str(out)


def test_fit_writes_the_run_folder(run_dir):
    for name in ("config.json", "metrics.jsonl", "best.pt", "last.pt", "summary.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert config["model"] == "m2" and config["alpha"] == 0.5 and config["n_labelled"] == 20
    assert config["labelled_bound"] == "step"
    assert config["model_options"] == {"z_dim": 4, "hidden": [16], "classifier": "mlp", "classifier_hidden": [16],
                                       "decoder_hidden": [16], "activation": "relu", "batch_norm": "all",
                                       "likelihood": "bernoulli"}
    lines = open(os.path.join(run_dir, "metrics.jsonl")).read().splitlines()
    record = json.loads(lines[0])
    assert len(lines) == 1 and record["epoch"] == 1
    for key in ("loss", "labelled", "unlabelled", "classifier", "valid_accuracy", "test_accuracy", "seconds"):
        assert key in record, key
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    assert summary["best_epoch"] == 1 and 0 <= summary["test_accuracy"] <= 1


def test_evaluate_writes_a_confusion_matrix(run_dir):
    result = invoke("evaluate", run_dir, "--device", "cpu")
    assert result.exit_code == 0, result.output
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    assert f"test accuracy {summary['test_accuracy']:.4f}" in result.output
    with open(os.path.join(run_dir, "confusion_matrix.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_resume_continues_where_the_run_stopped(mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert invoke("fit", "m2", "--data-dir", mnist_dir, "--out", out, *SMALL).exit_code == 0
    result = invoke("fit", "m2", "--resume", out, "--epochs", "2", "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    epochs = [json.loads(line)["epoch"] for line in open(out / "metrics.jsonl")]
    assert epochs == [1, 2]
    assert json.load(open(out / "config.json"))["epochs"] == 2


def test_the_progress_bar_shows_no_metric_before_the_first_validation(mnist_dir, tmp_path):
    args = [a for a in SMALL if a != "--quiet"] + ["--epochs", "2"]
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "run", *args)
    assert result.exit_code == 0, result.output
    assert "epoch 1" in result.stderr and "epoch 2 (valid_accuracy 0." in result.stderr
    assert "nan" not in result.stderr


def wide_help(*args):
    """The help of ``args`` on one line per option (no wrapping)."""
    result = CliRunner().invoke(main, [*args, "--help"], terminal_width=300, max_content_width=300)
    assert result.exit_code == 0, result.output
    return result.output


def test_fit_help_lists_the_models():
    text = wide_help("fit")
    for name, (_, description) in MODELS.items():
        assert f"{name}  " in text and description in text


@pytest.mark.parametrize("model, shown, not_shown", [
    ("m2", ["--alpha", "--labelled-bound", "--jit", "--compile", "--classifier [mlp|cnn]", "--augment", "--labels"],
     ["--noise", "--k ", "--kl-warmup", "--vae ", "--m1 ", "--sigma", "--active-threshold", "--vae-epochs"]),
    ("vae", ["--kl-warmup", "--likelihood", "--sigma", "--unlabelled"],
     ["--alpha", "--labels", "--classifier", "--jit", "--compile", "--noise", "--vae "]),
    ("dae", ["--noise", "--hidden"], ["--kl-warmup", "--likelihood", "--alpha", "--labels"]),
    ("m1", ["--vae ", "--m1 ", "--vae-epochs", "--classifier [mlp|svm|rf|logreg]"],
     ["--alpha", "--jit", "--compile", "--noise"]),
    ("m1m2", ["--vae ", "--m1 ", "--active-threshold", "--alpha", "--jit", "--compile"],
     ["--noise", "--k ", "--classifier "]),
    ("ccvae", ["--k ", "--labels"], ["--alpha", "--noise", "--vae "]),
])
def test_fit_model_help_shows_its_own_options_in_sections(model, shown, not_shown):
    text = wide_help("fit", model)
    sections = [line for line in text.splitlines() if line.endswith(" options:")]
    assert sections == ["Data options:", "Model options:", "Training options:", "Run options:"]
    for option in shown:
        assert f"  {option}" in text, option
    for option in not_shown:
        assert f"  {option}" not in text, option


@pytest.mark.parametrize("model", list(MODELS))
def test_fit_model_help_shows_the_models_defaults(model):
    entries = {}  # option → its help, which may start on the line after a long option
    for line in wide_help("fit", model).splitlines():
        if line.startswith("  -"):
            option, entries[option] = line.split()[0], line
        elif line.startswith("   ") and entries:
            entries[option] += line
    config = new_config(model)
    checked = 0
    for name, value in {**config.pop("model_options"), **config}.items():
        entry = entries.get(f"--{name.replace('_', '-')}")
        if entry is None or value is None or isinstance(value, (bool, dict)):
            continue
        assert entry.rstrip().endswith(f"[default: {show_option(value)}]"), entry
        checked += 1
    assert checked >= 6


class M2X(M2):
    """M2 with one more constructor argument, registered from outside pyross."""

    def __init__(self, x_dim=784, num_classes=10, z_dim=50, hidden=(500,), classifier_hidden=None,
                 decoder_hidden=None, classifier="mlp", w_dim=3):
        super().__init__(x_dim, num_classes, z_dim, hidden, classifier_hidden=classifier_hidden,
                         decoder_hidden=decoder_hidden, classifier=classifier)
        self.w_dim = w_dim


@pytest.fixture
def registered():
    register("m2x", M2X, "a test model: M2 with w_dim", like="m2")
    yield "m2x"
    del MODELS["m2x"], TRAINS_LIKE["m2x"]
    CLASSIFIERS.remove("m2x")


def test_a_registered_model_gets_its_own_help(registered):
    assert "a test model: M2 with w_dim" in wide_help("fit")
    text = wide_help("fit", registered)
    assert "--w-dim INTEGER" in text and "[default: 3]" in text  # its constructor's argument and default
    assert "  --alpha" in text and "  --noise" not in text and "  --activation" not in text


def test_a_registered_models_own_argument_is_an_option(registered, mnist_dir, tmp_path):
    result = invoke("fit", registered, "--w-dim", "5", "--data-dir", mnist_dir, "--out", tmp_path / "run", *SMALL)
    assert result.exit_code == 0, result.output
    assert json.load(open(tmp_path / "run" / "config.json"))["model_options"]["w_dim"] == 5
    assert invoke("fit", "m2", "--w-dim", "5").stderr.startswith("Error: No such option '--w-dim'")


def test_models_lists_m2():
    result = invoke("models")
    assert result.exit_code == 0 and result.output.startswith("m2")


BAD = [
    (["fit", "m3"], "unknown model 'm3'; did you mean 'm2'?"),
    (["fit", "m2", "--dataset", "mnsit"], "unknown dataset 'mnsit'; did you mean 'mnist'?"),
    (["fit", "m2", "--alpha", "-0.5"], "--alpha must be >= 0"),
    (["fit", "m2", "--labels", "400"], "has only"),
    (["fit", "m2", "--labels", "15"], "multiple of the number of classes"),
    (["fit", "m2", "--labels", "many"], "whole number or 'all'"),
    (["fit", "m2", "--hidden", "500,x"], "--hidden"),
    (["fit", "m2", "--epochs", "0"], "--epochs must be positive"),
    (["fit", "m2", "--device", "tpu"], "tpu"),
    (["fit", "vae", "--jit"], "--jit compiles the objective of m2, adgm and m1m2, not of vae"),
    (["fit", "m2", "--active-threshold", "0.1"], "--active-threshold does not apply to m2"),
    (["fit", "ff", "--labelled-bound", "share"], "--labelled-bound does not apply to ff"),
    (["fit", "m2", "--labelled-bound", "half"], "Invalid value for '--labelled-bound'"),
    (["fit", "m2", "--labelled-batch-size", "0"], "--labelled-batch-size must be positive, not 0"),
    (["fit", "m2", "--labelled-batch-size", "1"], "--labelled-batch-size 1 leaves batch norm no batch"),
    (["fit", "m1m2", "--vae-batch-size", "-5"], "--vae-batch-size must be positive, not -5"),
    (["fit", "m2", "--classifier-weight", "epoch"], "Invalid value for '--classifier-weight'"),
    (["fit", "m1m2", "--active-threshold", "-1"], "--active-threshold must be >= 0"),
    (["fit", "vae", "--kl-warmup", "-1"], "--kl-warmup must be >= 0"),
    (["fit", "dae", "--kl-warmup", "2"], "--kl-warmup does not apply to dae"),
    (["fit", "m1m2", "--vae", "nowhere", "--kl-warmup", "2"], "--kl-warmup applies to the VAE m1m2 trains"),
    (["fit", "m1", "--vae", "nowhere", "--vae-epochs", "2"], "--vae-epochs applies to the VAE m1 trains"),
    (["fit", "m2", "--alpha", "nan"], "Invalid value for '--alpha': 'nan' is not a finite number"),
    (["fit", "m2", "--alpha", "inf"], "'inf' is not a finite number"),
    (["fit", "m2", "--lr", "-inf"], "Invalid value for '--lr': '-inf' is not a finite number"),
    (["fit", "vae", "--sigma", "nan"], "Invalid value for '--sigma'"),
    (["fit", "m2", "--precision", "float16", "--device", "cpu"], "--precision float16 is for GPUs"),
    (["fit", "m2", "--precision", "half"], "Invalid value for '--precision'"),
    (["fit", "m2", "--preset", "papr"], "unknown preset of m2 'papr'; did you mean 'paper'?"),
    (["fit", "vae", "--preset", "paper"], "--preset does not apply to vae: it has no presets"),
    (["fit", "m2", "--ema", "1"], "--ema must be in [0, 1), not 1.0"),
    # M1+M2's defaults draw z1 from codes of the grey-level images computed once: refused before the VAE trains
    (["fit", "m1m2", "--augment", "2"], "trains on features of its images computed once: leave --augment at 0"),
    (["evaluate", "no-such-run"], "not a pyross run folder"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_nothing_written(args, message, mnist_dir, tmp_path):
    out = tmp_path / "out"
    extra = ["--data-dir", mnist_dir, "--out", out] if args[0] == "fit" else []
    result = invoke(*args, *extra)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output
    assert not out.exists()


def test_missing_data_dir_is_one_line(tmp_path):
    result = invoke("fit", "m2", "--data-dir", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert not (tmp_path / "out").exists()


def test_existing_out_is_not_overwritten(run_dir, mnist_dir):
    before = open(os.path.join(run_dir, "metrics.jsonl")).read()
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", run_dir, *SMALL)
    assert result.exit_code == 2 and "--overwrite" in result.stderr
    assert open(os.path.join(run_dir, "metrics.jsonl")).read() == before


def test_corrupt_checkpoint_is_one_line(run_dir, tmp_path):
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "best.pt").write_bytes(b"not a checkpoint")
    result = invoke("evaluate", broken, "--device", "cpu")
    assert result.exit_code == 2 and "corrupt" in result.stderr and result.stderr.count("\n") == 1


def test_report_tabulates_runs(run_dir):
    result = invoke("report", run_dir)
    assert result.exit_code == 0
    header, rule, row = result.output.strip().splitlines()
    assert header.startswith("| run |") and "alpha=0.5" in row and "z_dim=4" in row


def test_report_plots_the_validation_curves(run_dir, tmp_path):
    from pyross.report import validation_curves
    ylabel, curves = validation_curves([run_dir])
    metrics = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
    assert ylabel == "validation accuracy (%)"
    label = "/".join(os.path.normpath(run_dir).split(os.sep)[-2:])  # the folder and its parent
    assert curves == {label: [(m["epoch"], 100 * m["valid_accuracy"]) for m in metrics]}
    picture = tmp_path / "pictures" / "curves.png"
    result = invoke("report", run_dir, "--plot", picture, "--title", "one run")
    assert result.exit_code == 0 and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = invoke("report", run_dir, "--plot", tmp_path / "curves.jpg")
    assert result.exit_code == 2 and ".png" in result.stderr and not (tmp_path / "curves.jpg").exists()
    assert result.output.count("|") == 0  # nothing printed before the error


def test_fit_with_a_convolutional_classifier(mnist_dir, tmp_path):
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "cnn", *SMALL, "--classifier", "cnn",
                    "--augment-unlabelled")
    assert result.exit_code == 0, result.output
    config = json.load(open(tmp_path / "cnn" / "config.json"))
    assert config["model_options"]["classifier"] == "cnn" and config["augment_unlabelled"] is True


def test_labels_all_trains_fully_supervised(mnist_dir, tmp_path):
    args = ["--labels", "all", "--unlabelled", "all", *SMALL[4:]]
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "sup", *args)
    assert result.exit_code == 0, result.output
    config = json.load(open(tmp_path / "sup" / "config.json"))
    assert config["labels"] == "all" and config["n_labelled"] == 200 and config["n_unlabelled"] == 0
    record = json.loads(open(tmp_path / "sup" / "metrics.jsonl").readline())
    assert "unlabelled" not in record and "labelled" in record


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is visible")
def test_cuda_without_a_gpu_is_one_line(mnist_dir, tmp_path):
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "out", "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA GPU" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_preset_is_recorded_with_what_the_command_line_overrode(mnist_dir, tmp_path):
    out = tmp_path / "paper"
    result = invoke("fit", "m2", "--preset", "paper", "--data-dir", mnist_dir, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "paper"
    # SMALL (--hidden 16 --z-dim 4 --epochs 1 --batch-size 20 ...) overrides the preset; the rest is the preset's
    assert config["overrides"] == {"hidden": [16], "classifier_hidden": [16], "decoder_hidden": [16], "z_dim": 4,
                                   "epochs": 1, "batch_size": 20}
    assert config["labelled_batch_size"] == 1  # the preset's: the authors' batches with 100 labels
    assert config["alpha"] == 0.1 and config["labelled_bound"] == "share" and config["classifier_weight"] == "pass"
    assert config["model_options"]["activation"] == "softplus" and config["model_options"]["hidden"] == [16]


def test_models_defaults_lists_every_preset_with_its_options():
    result = invoke("models", "--defaults")
    assert result.exit_code == 0
    assert "--preset paper: Kingma et al. 2014" in result.output
    assert "--alpha 0.1 --lr 0.0003 --epochs 3000 --labelled-bound share --classifier-weight pass" in result.output
    assert "(vae: --z-dim 50 --hidden 500,500 --activation softplus" in result.output


@pytest.mark.parametrize("model", ["m2", "m1m2"])
def test_every_preset_option_is_one_the_model_takes_and_the_paper_is_permutation_invariant(model):
    from pyross.fitting import takes_option
    from pyross.recipes import recipe_of
    presets = recipe_of(model).presets
    assert {"tuned", "paper", "pi"} <= set(presets)
    for name, preset in presets.items():
        assert all(takes_option(model, k) or k == "vae" for k in preset.options), name
        config = new_config(model, preset=name)
        if name != "tuned":  # MLPs only, no shifts
            assert config["augment"] == 0 and config["model_options"].get("classifier", "mlp") == "mlp"
        if name == "paper":  # the authors' code: the weights themselves, a constant rate, whatever the defaults
            assert config["ema"] == 0 and config["lr_schedule"] == "constant"
    assert new_config(model, preset="tuned") == {**new_config(model), "preset": "tuned", "overrides": {}}


def test_compile_without_a_cxx_compiler_is_refused_in_a_line(tmp_path, monkeypatch):
    """Where torch's compiler finds no C++ compiler, --compile is refused before anything is written."""
    import torch._inductor.config
    monkeypatch.setenv("CXX", "no-such-compiler")
    with torch._inductor.config.patch({"cpp.cxx": (None, "no-such-compiler")}):
        result = CliRunner().invoke(main, ["fit", "m2", "--compile", "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "--compile needs a C++ compiler" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, message", [
    (["fit", "m2", "--jit", "--compile"], "--jit and --compile are two ways to compile the objective: give one"),
    (["fit", "vae", "--compile"], "--compile compiles the objective of m2, adgm and m1m2, not of vae"),
])
def test_compile_where_it_cannot_is_refused_in_a_line(args, message, tmp_path):
    result = CliRunner().invoke(main, args + ["--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()

