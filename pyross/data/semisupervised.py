"""Labelled / unlabelled partition of the training images, and batching by index.

The images stay in one tensor on the training device; a batch is an index tensor into it,
so no per-image Python code runs while training.
"""
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..errors import PyrossError
from .dataset import Split


def select_labelled(y, n_labels, num_classes, seed):
    """Choose which training images keep their label.

    :param torch.Tensor y: labels of the training images (-1: unknown, never labelled);
        ``(N, L)`` binary attributes for multi-label data.
    :param n_labels: ``"all"`` for every image, or an int: ``n_labels / num_classes`` images
        of each class are drawn with ``seed`` (multi-label data: ``n_labels`` images at random);
        the others form the unlabelled set. A float in (0, 1) is a fraction of the images,
        rounded to a whole number of images per class.
    :returns: ``(labelled_idx, unlabelled_idx)``, disjoint, sorted index tensors.
    :raises PyrossError: if ``n_labels`` is not a positive multiple of ``num_classes`` or a
        class has fewer images than asked for.
    """
    everything = torch.arange(len(y))
    if isinstance(n_labels, float):  # a fraction of the images (of each class's share, for classes)
        n_labels = (round(n_labels * len(y)) if y.dim() == 2
                    else max(1, round(n_labels * len(y) / num_classes)) * num_classes)
    if n_labels == "all":  # every image with a known label (an image folder's unlabelled images have -1)
        known = y >= 0 if y.dim() == 1 else (y >= 0).all(-1)
        return everything[known], everything[~known]
    if y.dim() == 2:
        if not 0 < n_labels <= len(y):
            raise PyrossError(f"--labels {n_labels} must be between 1 and the {len(y)} training images")
        chosen = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n_labels]
        mask = torch.zeros(len(y), dtype=torch.bool)
        mask[chosen] = True
        return everything[mask], everything[~mask]
    if n_labels <= 0 or n_labels % num_classes:
        raise PyrossError(f"--labels {n_labels} must be a positive multiple of the "
                          f"number of classes ({num_classes}), or 'all'")
    per_class = n_labels // num_classes
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(num_classes):
        members = everything[y == c]
        if len(members) < per_class:
            raise PyrossError(f"--labels {n_labels} asks for {per_class} images of class {c}, "
                              f"but the training set has only {len(members)}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    labelled = torch.cat(chosen).sort().values
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[labelled] = False
    return labelled, everything[mask]


def subsample(idx, n, seed):
    """Keep ``n`` of the indices ``idx`` (all when ``n`` is ``"all"``), drawn with ``seed``."""
    if n == "all":
        return idx
    if n > len(idx):
        raise PyrossError(f"--unlabelled {n} is more than the {len(idx)} unlabelled images there are")
    generator = torch.Generator().manual_seed(seed + 1)
    return idx[torch.randperm(len(idx), generator=generator)[:n]].sort().values


def index_batches(n, batch_size, generator, device):
    """Shuffle ``range(n)`` with ``generator`` and cut it into batches of indices.

    :returns: a list of index tensors on ``device``; the last one may be shorter.
    """
    return list(torch.randperm(n, generator=generator).to(device).split(batch_size))


def binarize(x, generator=None):
    """Dynamic binarisation: draw each pixel as Bernoulli(intensity).

    A fresh draw every time an image is used makes the Bernoulli likelihood p(x | y, z) a
    proper likelihood for grey-level images and acts as data augmentation.

    A pixel is 1 where a uniform draw falls below its intensity. On a CPU, in float32 and
    float64, these are the draws :func:`torch.bernoulli` makes from the same generator state
    (``tests/test_data.py`` checks it), made faster: torch fills the uniforms in one pass, where
    its Bernoulli kernel draws pixel by pixel (docs/performance.md, "Binarisation"). Elsewhere
    (a GPU, other dtypes) :func:`torch.bernoulli` draws them.
    """
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        return torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device).lt_(x)
    return torch.bernoulli(x, generator=generator)


def random_shift(x, max_shift, image_shape, generator=None):
    """Translate each image by a random whole number of pixels in ``[-max_shift, max_shift]``
    along each axis, filling with zeros (data augmentation of the labelled images).

    :param torch.Tensor x: flattened images ``(B, C*H*W)``.
    :param int max_shift: largest shift in pixels; 0 returns ``x`` unchanged.
    :param tuple image_shape: ``(C, H, W)``.
    """
    if max_shift == 0:
        return x
    c, h, w = image_shape
    batch = len(x)
    padded = F.pad(x.reshape(batch, c, h, w), (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, batch, 1, 1), generator=generator).to(x.device)
    rows = torch.arange(h, device=x.device).reshape(1, h, 1) + dy
    cols = torch.arange(w, device=x.device).reshape(1, 1, w) + dx
    shifted = padded[torch.arange(batch, device=x.device).reshape(batch, 1, 1), :, rows, cols]  # (B, H, W, C)
    return shifted.permute(0, 3, 1, 2).reshape(batch, -1)


@dataclass
class SemiSupervisedData:
    """What the trainer consumes: the labelled and unlabelled training images and the
    held-out splits, on one device.

    :ivar Split labelled: training images whose label the learner sees.
    :ivar Split unlabelled: training images without labels (every label -1).
    :ivar Split valid: validation split.
    :ivar Split test: test split.
    """

    labelled: Split
    unlabelled: Split
    valid: Split
    test: Split

    @classmethod
    def from_dataset(cls, dataset, n_labels, seed, n_unlabelled="all", device="cpu"):
        """Partition ``dataset.train`` into labelled and unlabelled images.

        :param dataset: a :class:`~pyross.data.Dataset`.
        :param n_labels: number of labelled images, or ``"all"``.
        :param int seed: seed of the draw.
        :param n_unlabelled: number of unlabelled images to keep, or ``"all"``.
        """
        train = dataset.train
        labelled, unlabelled = select_labelled(train.y, n_labels, dataset.num_classes, seed)
        unlabelled = subsample(unlabelled, n_unlabelled, seed)
        return cls(
            labelled=train.subset(labelled).to(device),
            unlabelled=train.view(unlabelled).unlabel().to(device),
            valid=dataset.valid.to(device),
            test=dataset.test.to(device),
        )

    def features(self, extract):
        """The same partition with the training images replaced by ``extract`` of them
        (:meth:`Split.features`); the held-out splits keep their images."""
        return SemiSupervisedData(self.labelled.features(extract), self.unlabelled.features(extract),
                                  self.valid, self.test)

    def without_labels(self):
        """The same training images, all unlabelled (for a model that learns without labels)."""
        return SemiSupervisedData(self.labelled.subset(slice(0, 0)),
                                  Split.cat([self.labelled.unlabel(), self.unlabelled]), self.valid, self.test)

    @property
    def n_train(self):
        """N: number of training images the learner uses, labelled plus unlabelled."""
        return len(self.labelled) + len(self.unlabelled)
