"""Every script in examples/ runs in --smoke mode on made-up data."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, *args, cwd):
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_train_m2(mnist_dir, tmp_path):
    out = run_example("train_m2.py", "--smoke", "--data-dir", mnist_dir, cwd=tmp_path)
    assert "test accuracy" in out and "their styles rendered as 7s: (8, 784)" in out
    assert (tmp_path / "runs" / "example-m2" / "summary.json").exists()


def test_table1_row(mnist_dir, tmp_path):
    out = run_example("table1_row.py", "--smoke", "--data-dir", mnist_dir, "--seeds", "0", "1", cwd=tmp_path)
    assert "| labels | m2 (pyross) |" in out and "(n=2)" in out


def test_style_transfer(mnist_dir, tmp_path):
    out = run_example("style_transfer.py", "--smoke", "--data-dir", mnist_dir, cwd=tmp_path)
    assert (tmp_path / "runs" / "example-style" / "style-transfer-example.png").exists(), out


def test_extend_m2_adds_a_site_and_nothing_else_changes(mnist_dir, tmp_path):
    out = run_example("extend_m2.py", "--smoke", "--data-dir", mnist_dir, cwd=tmp_path)
    run = tmp_path / "runs" / "example-m2w"
    assert (run / "summary.json").exists() and (run / "style-transfer.png").exists() and (run / "w-grid.png").exists()
    trace = out[out.index("model trace"):]
    assert re.search(r"w dist\s+3\s+\|\s+2\n", trace)  # w: once per image, batch (3,), event (2,)
    assert re.search(r"z dist\s+3\s+\|\s+2\n\s+value\s+10\s+3\s+\|\s+2\n", trace)  # z: per class and image
    assert re.search(r"x dist\s+10\s+3\s+\|\s+784\n", trace)
    assert '"model": "m2w"' in (run / "config.json").read_text()


def test_ccvae_latent_walk(mnist_dir, tmp_path):
    out = run_example("ccvae_latent_walk.py", "--smoke", "--data-dir", mnist_dir, cwd=tmp_path)
    assert "test accuracy" in out and (tmp_path / "runs" / "example-ccvae" / "latent-walk.png").exists()


def test_fashion_folder_builds_a_folder_and_scores_predictions(fashion_mnist_dir, tmp_path):
    out = run_example("fashion_folder.py", "build", "--smoke", "--data-dir", fashion_mnist_dir, "--out", "f", cwd=tmp_path)
    assert "wrote 20 labelled, 20 unlabelled and 20 held-out images" in out
    held_out = sorted((tmp_path / "f" / "held-out").rglob("*.png"))
    rows = ["path,prediction,error"] + [f"{p},{p.parent.name if i % 2 else 'wrong'}," for i, p in enumerate(held_out)]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    assert "10 of 20 predictions right" in run_example("fashion_folder.py", "score", "p.csv", cwd=tmp_path)


@pytest.mark.parametrize("script", sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".py")))
def test_every_example_has_a_smoke_test(script):
    assert script in {"train_m2.py", "table1_row.py", "style_transfer.py", "extend_m2.py", "fashion_folder.py",
                      "ccvae_latent_walk.py"}
