"""CelebA in torchvision's layout: a tiny folder written by the test, and its bad layouts."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from pyross.data import get_dataset
from pyross.data.celeba import EASY_ATTRIBUTES
from pyross.errors import PyrossError
from tests.test_cli import invoke

NAMES = ("Attractive", *EASY_ATTRIBUTES, "Bald")  # the file's order; pyross picks by name
PARTS = [0] * 8 + [1] * 2 + [2] * 2


def write_celeba(root, n=12):
    """``root/celeba`` with ``n`` JPEGs of 40x48 pixels, attributes cycling, partition 8/2/2."""
    folder = root / "celeba"
    os.makedirs(folder / "img_align_celeba")
    rng = np.random.default_rng(0)
    values = np.where(rng.random((n, len(NAMES))) > 0.5, 1, -1)
    lines = [str(n), " ".join(NAMES)]
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(folder / "img_align_celeba" / name)
        lines.append(f"{name} " + " ".join(f"{v:2d}" for v in values[i]))
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("".join(f"{i + 1:06d}.jpg {p}\n" for i, p in enumerate(PARTS[:n])))
    return values


@pytest.fixture
def celeba(tmp_path, monkeypatch):
    monkeypatch.setenv("PYROSS_CACHE", str(tmp_path / "cache"))
    values = write_celeba(tmp_path / "data")
    return str(tmp_path / "data"), values


def test_celeba_loads_in_torchvision_layout(celeba):
    data_dir, values = celeba
    dataset = get_dataset("celeba", data_dir)
    assert (len(dataset.train), len(dataset.valid), len(dataset.test)) == (8, 2, 2)
    assert dataset.image_shape == (3, 64, 64) and dataset.train.x.shape == (8, 3 * 64 * 64)
    assert dataset.class_names == EASY_ATTRIBUTES and dataset.multilabel
    expected = torch.as_tensor(values[:8, 1:19] > 0).long()  # the easy ones sit after "Attractive"
    assert torch.equal(dataset.train.y, expected)
    picked = get_dataset("celeba", os.path.join(data_dir, "celeba"), attributes=["Smiling", "Bald"])
    assert picked.class_names == ("Smiling", "Bald")
    assert torch.equal(picked.test.y[:, 1], torch.as_tensor(values[10:, -1] > 0).long())


@pytest.mark.parametrize("breakage, message", [
    ("no_folder", "lacks img_align_celeba, list_attr_celeba.txt, list_eval_partition.txt"),
    ("bad_attributes", "is not CelebA's attribute list"),
    ("missing_image", "is listed in list_attr_celeba.txt but is not a readable image"),
    ("unlisted", "are not in list_eval_partition.txt"),
])
def test_bad_celeba_layouts_are_one_line_errors(breakage, message, celeba):
    data_dir, _ = celeba
    folder = os.path.join(data_dir, "celeba")
    if breakage == "no_folder":
        data_dir = os.path.dirname(data_dir)
    elif breakage == "bad_attributes":
        with open(os.path.join(folder, "list_attr_celeba.txt"), "a") as f:
            f.write("000013.jpg 1 1\n")
    elif breakage == "missing_image":
        os.remove(os.path.join(folder, "img_align_celeba", "000003.jpg"))
    else:
        with open(os.path.join(folder, "list_eval_partition.txt")) as f:
            lines = f.readlines()
        with open(os.path.join(folder, "list_eval_partition.txt"), "w") as f:
            f.writelines(lines[:-1])
    with pytest.raises(PyrossError, match=message):
        get_dataset("celeba", data_dir)


def test_unknown_attribute_and_misplaced_option(celeba, mnist_dir):
    data_dir, _ = celeba
    with pytest.raises(PyrossError, match="did you mean 'Smiling'"):
        get_dataset("celeba", data_dir, attributes=["Smilng"])
    with pytest.raises(PyrossError, match="--attributes applies to --dataset celeba only"):
        get_dataset("mnist", mnist_dir, attributes=["Smiling"])
    with pytest.raises(PyrossError, match="pass --data-dir"):
        get_dataset("celeba")


def test_fit_ccvae_on_celeba_with_convolutional_networks(celeba, tmp_path):
    data_dir, _ = celeba
    out = tmp_path / "run"
    result = invoke("fit", "ccvae", "--dataset", "celeba", "--data-dir", data_dir, "--attributes", "Smiling,Male",
                    "--labels", "4", "--batch-size", "4", "--z-dim", "3", "--k", "3", "--epochs", "1", "--out", out,
                    "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    evaluated = invoke("evaluate", out, "--device", "cpu")
    assert evaluated.exit_code == 0 and "| Smiling |" in evaluated.output and "| Male |" in evaluated.output
    assert invoke("figure", "latent-walk", out, "--rows", "2", "--steps", "3", "--device", "cpu").exit_code == 0
