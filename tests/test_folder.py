"""Your own data: image folders, predict, SVHN; every bad case with its message."""
import csv
import io
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from pyross.data import folder as folder_module
from pyross.data import get_dataset
from pyross.errors import PyrossError
from tests.test_cli import invoke

CLASSES = ("cat", "dog", "owl")


def write_image(path, value, channels=1, size=20):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = (torch.rand(size, size, channels) * 60 + value).clamp(0, 255).to(torch.uint8).numpy()
    Image.fromarray(image[:, :, 0] if channels == 1 else image).save(path)


def make_folder(root, labelled=6, test=3, unlabelled=30):
    torch.manual_seed(0)
    for c, name in enumerate(CLASSES):
        for i in range(labelled):
            write_image(root / "labelled" / name / f"{i}.png", 90 * c)
        for i in range(test):
            write_image(root / "test" / name / f"{i}.png", 90 * c)
    for i in range(unlabelled):
        write_image(root / "unlabelled" / "deep" / "er" / f"{i}.png", 90 * (i % 3), channels=3, size=24)
    (root / "unlabelled" / "broken.png").write_text("not an image")
    (root / "unlabelled" / "notes.txt").write_text("not an image either, and not named like one")
    return root


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYROSS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def images(tmp_path):
    return make_folder(tmp_path / "images")


def test_a_folder_loads_with_classes_held_out_images_and_unknown_labels(images):
    messages = []
    d = folder_module.load_folder(str(images), size=16, channels=1, echo=messages.append)
    assert d.class_names == CLASSES and d.image_shape == (1, 16, 16) and d.x_dim == 256
    assert len(d.valid) == 3 and sorted(d.valid.y.tolist()) == [0, 1, 2]  # one of each class's six
    assert len(d.test) == 9 and d.test.y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(d.train) == 15 + 30 and (d.train.y == -1).sum() == 30  # the unlabelled images, at any depth
    assert 0 <= d.train.x.min() and d.train.x.max() <= 1
    assert any("skipped 1 file" in m and "broken.png" in m for m in messages)
    assert any("held out 3 labelled images" in m for m in messages)
    colour = folder_module.load_folder(str(images), size=8, channels=3, echo=messages.append)
    assert colour.image_shape == (3, 8, 8) and colour.train.x.shape[1] == 192


def test_without_a_test_folder_the_held_out_images_are_the_test_set(tmp_path):
    root = make_folder(tmp_path / "notest", test=0)
    assert not (root / "test").exists()
    messages = []
    d = folder_module.load_folder(str(root), echo=messages.append)
    assert torch.equal(d.test.x, d.valid.x) and "they are the test set too" in messages[-1]


def test_decoded_images_are_cached_until_a_file_changes(images, monkeypatch):
    first = folder_module.load_folder(str(images), echo=lambda m: None)
    real = folder_module.read_images
    monkeypatch.setattr(folder_module, "read_images", lambda *a: pytest.fail("decoded again"))
    again = folder_module.load_folder(str(images), echo=lambda m: None)
    assert torch.equal(first.train.x, again.train.x)
    write_image(images / "unlabelled" / "new.png", 0)
    monkeypatch.setattr(folder_module, "read_images", real)
    assert len(folder_module.load_folder(str(images), echo=lambda m: None).train) == len(first.train) + 1


def test_labels_n_draws_from_the_labelled_images_only(images):
    from pyross.data import select_labelled

    d = folder_module.load_folder(str(images), echo=lambda m: None)
    labelled, unlabelled = select_labelled(d.train.y, 6, 3, seed=0)
    assert (d.train.y[labelled] >= 0).all() and len(unlabelled) == len(d.train) - 6


BAD = [
    (lambda root: None, "no such folder"),
    (lambda root: os.makedirs(root / "unlabelled"), "has no labelled/ folder"),
    (lambda root: os.makedirs(root / "labelled"), "has no class sub-folders"),
    (lambda root: (write_image(root / "labelled" / "cat" / "0.png", 0), os.makedirs(root / "labelled" / "dog")),
     "class 'dog' has no image"),
    (lambda root: (write_image(root / "labelled" / "cat" / "0.png", 0),
                   write_image(root / "test" / "cow" / "0.png", 0)), "test has classes that labelled/ has not: cow"),
    (lambda root: (write_image(root / "labelled" / "cat" / "0.png", 0), os.makedirs(root / "labelled" / "dog"),
                   (root / "labelled" / "dog" / "x.png").write_text("broken")), "none of its images"),
]


@pytest.mark.parametrize("make, message", BAD, ids=[m for _, m in BAD])
def test_a_bad_folder_is_one_line_naming_it(make, message, tmp_path):
    root = tmp_path / "bad"
    make(root)
    result = invoke("fit", "m2", "--dataset", f"folder:{root}", "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ") and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


SMALL = ["--batch-size", "10", "--hidden", "16", "--classifier-hidden", "16", "--decoder-hidden", "16",
         "--z-dim", "2", "--epochs", "1", "--device", "cpu", "--quiet"]


@pytest.fixture
def folder_run(images, tmp_path):
    out = tmp_path / "run"
    result = invoke("fit", "m2", "--dataset", f"folder:{images}", "--image-size", "16", "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    return out


def test_m2_trains_on_a_folder_and_records_its_classes(folder_run):
    config = json.loads((folder_run / "config.json").read_text())
    assert config["class_names"] == list(CLASSES) and config["image_shape"] == [1, 16, 16]
    assert config["labels"] == "all" and config["n_labelled"] == 15 and config["n_unlabelled"] == 30


def test_predict_writes_a_csv_with_probabilities_and_errors(folder_run, images, tmp_path):
    out = tmp_path / "predictions.csv"
    result = invoke("predict", folder_run, images / "test", images / "unlabelled" / "broken.png",
                    images / "unlabelled" / "notes.txt", "--top-k", "2", "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0]) == ["path", "prediction", "top_2", "p_cat", "p_dog", "p_owl", "error"]
    assert len(rows) == 11
    for row in rows[:9]:
        probabilities = [float(row[f"p_{c}"]) for c in CLASSES]
        assert sum(probabilities) == pytest.approx(1, abs=1e-5) and not row["error"]
        assert row["prediction"] == CLASSES[int(np.argmax(probabilities))] and row["top_2"] != row["prediction"]
    assert all(row["error"] and not row["prediction"] for row in rows[9:])
    stdout = invoke("predict", folder_run, images / "test" / "owl" / "0.png", "--device", "cpu")
    assert stdout.exit_code == 0 and len(list(csv.DictReader(io.StringIO(stdout.stdout)))) == 1


def test_predict_works_for_ff_and_refuses_a_vae(images, tmp_path):
    ff = tmp_path / "ff"
    assert invoke("fit", "ff", "--dataset", f"folder:{images}", "--out", ff, "--classifier", "mlp",
                  *SMALL[:2], *SMALL[4:6], *SMALL[10:]).exit_code == 0
    result = invoke("predict", ff, images / "test", "--device", "cpu")
    assert result.exit_code == 0 and result.stdout.count("\n") == 10
    vae = tmp_path / "vae"
    assert invoke("fit", "vae", "--dataset", f"folder:{images}", "--out", vae, "--hidden", "8",
                  *SMALL[6:]).exit_code == 0
    refused = invoke("predict", vae, images / "test", "--device", "cpu")
    assert refused.exit_code == 2 and "does not classify" in refused.stderr
    missing = invoke("predict", ff, tmp_path / "nowhere", "--device", "cpu")
    assert missing.exit_code == 2 and "no such file or folder" in missing.stderr
    too_many = invoke("predict", ff, images / "test", "--top-k", "4", "--device", "cpu")
    assert too_many.exit_code == 2 and "more than the 3 classes" in too_many.stderr


def test_folder_options_are_refused_for_benchmark_datasets(mnist_dir, tmp_path):
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--image-size", "32", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "--image-size applies to image folders" in result.stderr


def write_mat(path, n, rng):
    import scipy.io

    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    scipy.io.savemat(path, {"X": x, "y": (np.arange(n) % 10 + 1).reshape(-1, 1).astype(np.uint8)})
    return x


def test_svhn_reads_the_mat_files(tmp_path, monkeypatch):
    monkeypatch.setattr("pyross.data.mnist.VALIDATION_SIZE", 10)
    rng = np.random.default_rng(0)
    x = write_mat(tmp_path / "train_32x32.mat", 30, rng)
    write_mat(tmp_path / "test_32x32.mat", 7, rng)
    d = get_dataset("svhn", str(tmp_path))
    assert (len(d.train), len(d.valid), len(d.test)) == (20, 10, 7) and d.image_shape == (3, 32, 32)
    assert d.train.y[:10].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]  # label 10 is the digit 0
    assert torch.equal(d.train.x[3].reshape(3, 32, 32), torch.as_tensor(x[:, :, :, 3]).permute(2, 0, 1) / 255.0)


def test_missing_svhn_says_how_to_get_it(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise RuntimeError("no network")
    monkeypatch.setattr("torchvision.datasets.SVHN", no_network)
    with pytest.raises(PyrossError, match="train_32x32.mat"):
        get_dataset("svhn", str(tmp_path))
    (tmp_path / "train_32x32.mat").write_text("garbage")
    (tmp_path / "test_32x32.mat").write_text("garbage")
    with pytest.raises(PyrossError, match="not an SVHN .mat file"):
        get_dataset("svhn", str(tmp_path))
