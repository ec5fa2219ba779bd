"""The in-memory dataset type every loader returns."""
from dataclasses import dataclass
from typing import Tuple

import torch


class Split:
    """Images and labels of one split, as tensors in memory.

    The images are kept as they were read: 8-bit grey levels take a quarter of the memory
    of floats, so the loaders of 8-bit files keep the bytes and the number of levels they
    are divided by (``levels``: 255 for torchvision's files, 256 for the classic pickle);
    :attr:`x` and :meth:`images` convert on access, a batch at a time in training.

    :param torch.Tensor x: images flattened to ``(N, D)``: floats in ``[0, 1]``, or
        ``uint8`` grey levels when ``levels`` is given.
    :param torch.Tensor y: integer class labels, shape ``(N,)`` (-1: unknown).
    :param int levels: the grey levels of ``uint8`` images are divided by this.
    :param torch.Tensor rows: if given, the split's images are the rows ``x[rows]``, read from
        ``x`` without a copy (:meth:`view`); ``y`` then has one label per row.
    """

    def __init__(self, x, y, levels=None, rows=None):
        self.pixels, self.y, self.levels, self.rows = x, y, levels, rows

    def __len__(self):
        return len(self.y)

    @property
    def x(self):
        """All images as floats in ``[0, 1]``, ``(N, D)``."""
        return self.images(slice(None))

    def _stored(self, index):
        """The stored images (bytes or floats) at ``index``."""
        return self.pixels[index] if self.rows is None else self.pixels[self.rows[index]]

    def images(self, index):
        """The images at ``index`` (an index tensor or a slice) as floats in ``[0, 1]``."""
        rows = self._stored(index)
        return rows if self.levels is None else rows.float() / self.levels

    def batches(self, size):
        """The images as floats in ``[0, 1]`` with their labels, ``size`` at a time: ``(x, y)`` pairs
        (converting the whole split at once would hold all its floats: 31 MB for 10,000 MNIST images)."""
        for i in range(0, len(self), size):
            yield self.images(slice(i, i + size)), self.y[i:i + size]

    def features(self, extract, size=5000):
        """A split of the same labels whose "images" are ``extract`` of these images (floats),
        computed ``size`` images at a time."""
        parts = [extract(x) for x, _ in self.batches(size)] or [extract(self.images(slice(0, 0)))]
        return Split(torch.cat(parts), self.y)

    @property
    def device(self):
        """The device the split is on."""
        return self.pixels.device

    def subset(self, index):
        """The images and labels at ``index`` (an index tensor or a slice) as a split of their own."""
        return Split(self._stored(index), self.y[index], self.levels)

    def view(self, index):
        """The images and labels at ``index`` as a split that reads this one's images, not a copy.

        The unlabelled images of a semi-supervised partition are nearly all the training
        images: a view keeps them once in memory (about 40 MB for MNIST).
        """
        rows = torch.arange(len(self), device=self.device)[index] if self.rows is None else self.rows[index]
        return Split(self.pixels, self.y[index], self.levels, rows)

    def unlabel(self):
        """The same images with every label -1 (unknown)."""
        return Split(self.pixels, torch.full_like(self.y, -1), self.levels, self.rows)

    def to(self, device):
        """Return this split on ``device``."""
        rows = None if self.rows is None else self.rows.to(device)
        return Split(self.pixels.to(device), self.y.to(device), self.levels, rows)

    @staticmethod
    def cat(splits):
        """The splits one after the other (they must store their images alike)."""
        return Split(torch.cat([s._stored(slice(None)) for s in splits]), torch.cat([s.y for s in splits]),
                     splits[0].levels)


@dataclass
class Dataset:
    """A labelled image dataset with fixed train / validation / test splits.

    :ivar str name: registry name, e.g. ``"mnist"``.
    :ivar Split train: the training images (labels are hidden from the learner except for
        the few selected by :func:`pyross.data.select_labelled`).
    :ivar Split valid: the validation images, used only to choose the best checkpoint.
    :ivar Split test: the test images, reported, never used for choices.
    :ivar tuple image_shape: ``(channels, height, width)`` of one image.
    :ivar tuple class_names: one name per class, or per attribute for multi-label data
        (labels ``(N, L)`` of 0/1, e.g. ``shapes``).
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
    def multilabel(self):
        """Whether each image has several binary attributes (labels ``(N, L)``) rather than one class."""
        return self.train.y.dim() == 2

    @property
    def x_dim(self):
        """Number of pixel values of one flattened image."""
        c, h, w = self.image_shape
        return c * h * w
