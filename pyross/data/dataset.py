"""The in-memory dataset type every loader returns."""
from dataclasses import dataclass
from typing import Tuple

import torch


@dataclass
class Split:
    """Images and labels of one split, as tensors in memory.

    :ivar torch.Tensor x: images flattened to ``(N, D)``, float in ``[0, 1]``.
    :ivar torch.Tensor y: integer class labels, shape ``(N,)``.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self):
        return len(self.y)

    def to(self, device):
        """Return this split on ``device``."""
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class Dataset:
    """A labelled image dataset with fixed train / validation / test splits.

    :ivar str name: registry name, e.g. ``"mnist"``.
    :ivar Split train: the training images (labels are hidden from the learner except for
        the few selected by :func:`pyross.data.select_labelled`).
    :ivar Split valid: the validation images, used only to choose the best checkpoint.
    :ivar Split test: the test images, reported, never used for choices.
    :ivar tuple image_shape: ``(channels, height, width)`` of one image.
    :ivar tuple class_names: one name per class.
    :ivar str source: where the data were read from, for the record.
    """

    name: str
    train: Split
    valid: Split
    test: Split
    image_shape: Tuple[int, int, int]
    class_names: Tuple[str, ...]
    source: str

    @property
    def num_classes(self):
        """Number of classes."""
        return len(self.class_names)

    @property
    def x_dim(self):
        """Number of pixel values of one flattened image."""
        c, h, w = self.image_shape
        return c * h * w
