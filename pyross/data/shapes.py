"""``shapes``: a procedurally generated multi-attribute image dataset, for CCVAE offline.

Each 28x28 colour image holds one shape, described by six binary attributes:

======== ============================== ==============================
name     1                              0
======== ============================== ==============================
square   a square                       a disc
large    radius 8 pixels                radius 5 pixels
right    centred right of the middle    left of it
bottom   centred below the middle       above it
filled   filled                         an outline 2 pixels wide
red      red                            blue
======== ============================== ==============================

Every attribute is drawn independently with probability 1/2, the centre is jittered by up to
2 pixels and the colour's brightness varies, all from a fixed seed, so every call gives the
same 20,000 training, 5,000 validation and 5,000 test images (generated in memory, nothing
downloaded, and cached like decoded data: :mod:`pyross.data.cache`). The labels are a
``(N, 6)`` tensor of 0/1.
"""
import numpy as np
import torch

from .cache import cached
from .dataset import Dataset, Split

#: changes whenever :func:`render` draws differently, so that cached images are not reused
VERSION = 1
ATTRIBUTES = ("square", "large", "right", "bottom", "filled", "red")
SIZES = {"train": 20_000, "valid": 5_000, "test": 5_000}
SIDE = 28


def render(attributes, rng):
    """Images ``(N, 3, 28, 28)`` as bytes for 0/1 ``attributes`` ``(N, 6)``, jitter drawn from ``rng``."""
    n = len(attributes)
    square, large, right, bottom, filled, red = attributes.T.astype(bool)
    radius = np.where(large, 8.0, 5.0)[:, None, None]
    cx = (np.where(right, 19.0, 9.0) + rng.integers(-2, 3, n))[:, None, None]
    cy = (np.where(bottom, 19.0, 9.0) + rng.integers(-2, 3, n))[:, None, None]
    rows, cols = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    dx, dy = cols[None] - cx, rows[None] - cy
    distance = np.where(square[:, None, None], np.maximum(abs(dx), abs(dy)), np.hypot(dx, dy))
    inside = distance <= radius
    shape = np.where(filled[:, None, None], inside, inside & (distance > radius - 2))
    brightness = rng.uniform(0.6, 1.0, n)
    colour = np.where(red[:, None], [[1.0, 0.15, 0.1]], [[0.1, 0.3, 1.0]]) * brightness[:, None]  # (N, 3)
    images = shape[:, None] * colour[:, :, None, None]
    return np.rint(255 * images).astype(np.uint8)


def load_shapes(data_dir=None, seed=0):
    """The ``shapes`` dataset (``data_dir`` is not used: the images are generated).

    :returns: a :class:`~pyross.data.Dataset` whose labels are ``(N, 6)`` binary attributes.
    """
    def generate():
        rng = np.random.default_rng(seed)
        made = {}
        for name, n in SIZES.items():
            attributes = rng.integers(0, 2, (n, len(ATTRIBUTES)))
            made[name] = (torch.as_tensor(render(attributes, rng)).reshape(n, -1), torch.as_tensor(attributes))
        return made

    splits = {name: Split(x, y.long(), levels=255)
              for name, (x, y) in cached(f"shapes|{seed}", VERSION, generate).items()}
    return Dataset(name="shapes", train=splits["train"], valid=splits["valid"], test=splits["test"],
                   image_shape=(3, SIDE, SIDE), class_names=ATTRIBUTES, source=f"generated (seed {seed})")
