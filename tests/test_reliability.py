"""A run survives kills, Ctrl-C, NaNs and bad input without losing work."""
import json
import os
import signal
import subprocess
import sys
import time

import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyross.cli import main
from pyross.data.registry import DATASETS, FOLDER
from pyross.models import MODELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--labels", "20", "--batch-size", "10", "--hidden", "16", "--classifier", "mlp", "--classifier-hidden",
        "16", "--decoder-hidden", "16", "--z-dim", "4", "--device", "cpu", "--quiet"]
# long enough epochs (90 steps) for a signal to land inside one
SLOW = [*TINY, "--unlabelled", "180", "--batch-size", "2", "--epochs", "3"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def metrics(run_dir, drop=("seconds",)):
    lines = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
    return [{k: v for k, v in m.items() if k not in drop} for m in lines]


def start_fit(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "cli.py", "fit", "m2", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, process, timeout=120):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def run_fit(*args):
    process = start_fit(*args)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return err


def test_same_seed_same_metrics(mnist_dir, tmp_path):
    args = ["--data-dir", mnist_dir, *TINY, "--unlabelled", "60", "--epochs", "2"]
    assert invoke("fit", "m2", *args, "--out", tmp_path / "a").exit_code == 0
    assert invoke("fit", "m2", *args, "--out", tmp_path / "b").exit_code == 0
    assert invoke("fit", "m2", *args, "--out", tmp_path / "c", "--seed", "1").exit_code == 0
    assert metrics(tmp_path / "a") == metrics(tmp_path / "b")
    assert metrics(tmp_path / "a") != metrics(tmp_path / "c")


def test_sigkill_then_resume_logs_every_epoch_once(mnist_dir, tmp_path):
    out = tmp_path / "run"
    process = start_fit("--data-dir", mnist_dir, "--out", out, *SLOW)
    wait_for(out / "last.pt", process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert [m["epoch"] for m in metrics(out)] in ([1], [1, 2])  # killed before the end
    run_fit("--resume", out, "--device", "cpu", "--quiet")
    assert [m["epoch"] for m in metrics(out)] == [1, 2, 3]
    assert os.path.exists(out / "summary.json")


def test_ctrl_c_saves_mid_epoch_and_resume_matches_an_unbroken_run(mnist_dir, tmp_path):
    out = tmp_path / "run"
    process = start_fit("--data-dir", mnist_dir, "--out", out, *SLOW)
    wait_for(out / "last.pt", process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    message = err.strip().splitlines()[-1]
    assert message.startswith("Error: stopped by Ctrl-C in epoch") and "--resume" in message
    assert "Traceback" not in err
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["partial"] is not None and 0 < state["partial"]["step"] < 90

    run_fit("--resume", out, "--device", "cpu", "--quiet")
    run_fit("--data-dir", mnist_dir, "--out", tmp_path / "unbroken", *SLOW)
    assert metrics(out) == metrics(tmp_path / "unbroken")


def test_nan_loss_stops_with_epoch_and_step(mnist_dir, tmp_path):
    out = tmp_path / "run"
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", out, *TINY, "--unlabelled", "60",
                    "--epochs", "3", "--lr", "1e8")
    assert result.exit_code == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: loss became nan at epoch 1, step") and result.stderr.count("Error") == 1
    assert not (out / "metrics.jsonl").exists() and not (out / "last.pt").exists()  # nothing NaN was saved


def test_checkpoint_of_another_model_is_one_line(mnist_dir, tmp_path):
    base = ["--data-dir", mnist_dir, *TINY, "--unlabelled", "60", "--epochs", "1"]
    assert invoke("fit", "m2", *base, "--out", tmp_path / "small").exit_code == 0
    assert invoke("fit", "m2", *base, "--z-dim", "3", "--out", tmp_path / "other").exit_code == 0
    for name in ("best.pt", "last.pt"):
        os.replace(tmp_path / "other" / name, tmp_path / "small" / name)
    before = metrics(tmp_path / "small")
    for args in (["evaluate", tmp_path / "small", "--device", "cpu"],
                 ["fit", "m2", "--resume", tmp_path / "small", "--epochs", "2", "--quiet"]):
        result = invoke(*args)
        assert result.exit_code == 2 and "does not hold this run's model" in result.stderr
        assert result.stderr.count("\n") == 1
    assert metrics(tmp_path / "small") == before


def is_fraction(text):
    """Whether ``text`` is a valid fraction for --labels: a number strictly between 0 and 1."""
    try:
        return 0 < float(text) < 1
    except ValueError:
        return False


BAD_VALUES = st.one_of(
    st.tuples(st.just("--alpha"), st.floats(max_value=-1e-6, allow_nan=False).map(repr)),
    st.tuples(st.just("--labels"), st.integers(1, 10_000).filter(lambda n: n % 10).map(str)),
    st.tuples(st.just("--labels"), st.integers(21, 10_000).map(lambda n: str(10 * n))),  # more than the data
    st.tuples(st.just("--labels"), st.text(min_size=1).filter(lambda t: not t.strip().isdigit() and t != "all"
                                                              and not is_fraction(t))),  # "0.5" is valid
    st.tuples(st.sampled_from(["--epochs", "--batch-size", "--z-dim"]), st.integers(-1000, 0).map(str)),
    st.tuples(st.just("--hidden"), st.text(min_size=1).filter(lambda t: not all(  # isdigit() admits '²'
        p.strip().isascii() and p.strip().isdigit() and int(p) > 0 for p in t.split(",")))),
    st.tuples(st.just("--dataset"), st.text(min_size=1).filter(lambda t: t not in DATASETS
                                                               and not t.startswith(FOLDER))),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=BAD_VALUES)
def test_generated_bad_options_are_one_line_errors(bad, mnist_dir, tmp_path):
    option, value = bad
    out = tmp_path / "never"
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", out, *TINY, option, value)
    assert result.exit_code == 2, (bad, result.output)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, (bad, result.stderr)
    assert "Traceback" not in result.output
    assert not out.exists()


@settings(max_examples=20, deadline=None)
@given(name=st.text(min_size=1).filter(lambda t: t not in MODELS and not t.startswith("-")))
def test_generated_unknown_models_are_one_line_errors(name):
    result = invoke("fit", name)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "unknown model" in result.stderr
