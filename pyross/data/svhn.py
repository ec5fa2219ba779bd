"""SVHN (the paper's Table 2): colour 32x32 house-number digits, through torchvision.

``--data-dir DIR`` is read with scipy as torchvision reads it (``X`` of shape
``(32, 32, 3, N)``, labels 1-10 with 10 for the digit 0), without torchvision's checksum,
so a subset or a re-packed copy works too; otherwise torchvision downloads the files.

The 73,257 training images are split like MNIST's: the last :data:`~pyross.data.mnist.VALIDATION_SIZE`
for validation, the rest for training; the 26,032 test images for test. (The paper also used
the 531,131 "extra" images; pyross does not.) torchvision reads ``train_32x32.mat`` and
``test_32x32.mat`` with scipy.
"""
import os

import torch

from ..errors import PyrossError
from .dataset import Split
from .mnist import CACHE_DIR, build_dataset

HOW_TO_GET = ("SVHN not found: pass --data-dir DIR with DIR/train_32x32.mat and DIR/test_32x32.mat (from "
              "http://ufldl.stanford.edu/housenumbers/), or let torchvision download them (needs the internet)")


def read_mat(path):
    """One SVHN ``.mat`` file as a :class:`Split`: images ``(N, 3*32*32)`` in [0, 1], labels 0-9.

    :raises PyrossError: if the file is not an SVHN ``.mat`` file.
    """
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        mat = scipy.io.loadmat(path)
        x, y = mat["X"], mat["y"]
    except (OSError, ValueError, KeyError, TypeError, MatReadError) as e:
        raise PyrossError(f"{path} is not an SVHN .mat file with X and y ({type(e).__name__})") from None
    images = torch.as_tensor(x).permute(3, 2, 0, 1).reshape(x.shape[3], -1)
    labels = torch.as_tensor(y.astype("int64")).reshape(-1) % 10  # 10 stands for the digit 0
    return Split(images, labels, levels=255)


def _read(root, download):
    """Train and test :class:`Split` from ``root``; ``None`` if the files are not there."""
    if download:
        from torchvision.datasets import SVHN

        try:
            for split in ("train", "test"):
                SVHN(root, split=split, download=True)
        except (RuntimeError, OSError, ValueError):
            return None
    paths = [os.path.join(root, f"{split}_32x32.mat") for split in ("train", "test")]
    if not all(os.path.isfile(p) for p in paths):
        return None
    return [read_mat(p) for p in paths]


def load_svhn(data_dir=None):
    """Load SVHN: ``data_dir`` (or ``data_dir/SVHN``) first, then torchvision's download.

    :returns: a :class:`~pyross.data.Dataset` of ``(3, 32, 32)`` images in [0, 1], labels 0-9.
    :raises PyrossError: if neither has the files.
    """
    found = None
    for root in ([data_dir, os.path.join(data_dir, "SVHN")] if data_dir else []):
        found = _read(root, download=False)
        if found is not None:
            source = f"SVHN .mat files in {root}"
            break
    if found is None:
        root = os.path.join(CACHE_DIR, "SVHN")
        found, source = _read(root, download=True), f"torchvision download to {root}"
    if found is None:
        raise PyrossError(HOW_TO_GET)
    train_all, test = found
    return build_dataset("svhn", "SVHN", train_all, test, source, tuple(str(d) for d in range(10)), (3, 32, 32))
