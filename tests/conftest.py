"""Shared fixtures: small made-up data, never the network, never ../shared."""
import os
import struct

import numpy as np
import pytest

from pyross.data.mnist import VALIDATION_SIZE

@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Decoded-data caches of the tests go to a temporary folder, not the user's ~/.cache/pyross."""
    old = os.environ.get("PYROSS_CACHE")
    os.environ["PYROSS_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["PYROSS_CACHE"]
    else:
        os.environ["PYROSS_CACHE"] = old


N_TRAIN = 200  # training images kept by the split, before the validation images
N_TEST = 100


def write_idx(path, array):
    """Write ``array`` (uint8) as an IDX file: magic, sizes, then the bytes."""
    magic = 2051 if array.ndim == 3 else 2049
    with open(path, "wb") as f:
        f.write(struct.pack(">i", magic))
        f.write(struct.pack(f">{array.ndim}i", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def fake_images(n, rng):
    """``n`` 28x28 images: a fixed random prototype per class plus noise; labels cycle 0..9."""
    prototypes = rng.random((10, 28, 28)) > 0.7
    labels = np.arange(n) % 10
    noise = rng.random((n, 28, 28)) < 0.1
    return (255 * (prototypes[labels] ^ noise)).astype(np.uint8), labels


def write_raw_folder(root, folder, seed=0):
    """Write torchvision's raw layout ``root/folder/raw`` with 200 + 10,000 training and 100 test images."""
    raw = root / folder / "raw"
    os.makedirs(raw)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", N_TRAIN + VALIDATION_SIZE), ("t10k", N_TEST)):
        images, labels = fake_images(n, rng)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return str(root)


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    """A folder in torchvision's raw MNIST layout with 200 + 10,000 training and 100 test images."""
    return write_raw_folder(tmp_path_factory.mktemp("data"), "MNIST")


@pytest.fixture(scope="session")
def fashion_mnist_dir(tmp_path_factory):
    """A folder in torchvision's raw FashionMNIST layout with 200 + 10,000 training and 100 test images."""
    return write_raw_folder(tmp_path_factory.mktemp("fashion"), "FashionMNIST", seed=1)
