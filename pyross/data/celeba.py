"""CelebA (Liu et al. 2015) in torchvision's layout, for CCVAE's binary attributes.

``--data-dir DIR`` must hold torchvision's files (``DIR/celeba/...``, or ``DIR`` itself being
that ``celeba`` folder):

* ``img_align_celeba/`` with the aligned JPEG images;
* ``list_attr_celeba.txt``: the number of images, the 40 attribute names, then one line per
  image with its file name and 40 values of 1 or -1;
* ``list_eval_partition.txt``: one line per image, its file name and 0 (train), 1
  (validation) or 2 (test).

Images are resized to 64x64 colour (as in the CCVAE authors' code) and kept as bytes; the
decoded images are cached (:mod:`pyross.data.cache`). The labels are the chosen attributes as
``(N, L)`` 0/1, by default the 18 that Joy et al. used (:data:`EASY_ATTRIBUTES`).
torchvision's own download of CelebA goes through Google Drive, which often refuses; the
error message says where to get the files.
"""
import os

import numpy as np
import torch

from ..errors import PyrossError, unknown_name
from .cache import cached, fingerprint
from .dataset import Dataset, Split

#: the 18 attributes of Joy et al. (2021), the default selection
EASY_ATTRIBUTES = ("Arched_Eyebrows", "Bags_Under_Eyes", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair",
                   "Bushy_Eyebrows", "Chubby", "Eyeglasses", "Heavy_Makeup", "Male", "No_Beard", "Pale_Skin",
                   "Receding_Hairline", "Smiling", "Wavy_Hair", "Wearing_Necktie", "Young")
SIDE = 64
FILES = ("img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt")
HOW_TO_GET = ("CelebA is not downloaded here: get img_align_celeba.zip, list_attr_celeba.txt and "
              "list_eval_partition.txt from the CelebA site (mmlab.ie.cuhk.edu.hk/projects/CelebA.html), unzip the "
              "images, and pass --data-dir DIR with them in DIR/celeba/")


def _root(data_dir):
    """The folder holding the three files: ``DIR/celeba`` or ``DIR`` itself."""
    if data_dir is None:
        raise PyrossError(HOW_TO_GET)
    for folder in (os.path.join(data_dir, "celeba"), data_dir):
        if all(os.path.exists(os.path.join(folder, f)) for f in FILES):
            return folder
    missing = [f for f in FILES if not os.path.exists(os.path.join(data_dir, "celeba", f))]
    raise PyrossError(f"{os.path.join(data_dir, 'celeba')} lacks {', '.join(missing)}. {HOW_TO_GET}")


def read_attributes(path):
    """``(names, files, values)`` of ``list_attr_celeba.txt``; ``values`` ``(N, 40)`` of 0/1."""
    try:
        with open(path) as f:
            count = int(f.readline())
            names = f.readline().split()
            rows = [line.split() for line in f if line.strip()]
        values = np.array([[int(v) for v in row[1:]] for row in rows])
    except (ValueError, OSError) as e:
        raise PyrossError(f"{path} is not CelebA's attribute list ({type(e).__name__}: {e})") from None
    if len(rows) != count or values.shape[1:] != (len(names),) or not np.isin(values, (-1, 1)).all():
        raise PyrossError(f"{path} is not CelebA's attribute list: expected {count} rows of {len(names)} values of 1 "
                          f"or -1 after the header")
    return names, [row[0] for row in rows], (values > 0).astype(np.int64)


def read_partition(path):
    """``{file: 0|1|2}`` of ``list_eval_partition.txt`` (train, validation, test)."""
    try:
        with open(path) as f:
            parts = {name: int(part) for name, part in (line.split() for line in f if line.strip())}
    except ValueError:
        raise PyrossError(f"{path} is not CelebA's partition list: each line must be a file name and 0, 1 or 2") from None
    if not set(parts.values()) <= {0, 1, 2}:
        raise PyrossError(f"{path} is not CelebA's partition list: each line must be a file name and 0, 1 or 2")
    return parts


def _decode(folder, files):
    """The images ``files`` of ``folder`` as bytes ``(N, 3 * 64 * 64)``."""
    from PIL import Image

    images = np.empty((len(files), 3, SIDE, SIDE), dtype=np.uint8)
    for i, name in enumerate(files):
        path = os.path.join(folder, name)
        try:
            with Image.open(path) as image:
                images[i] = np.asarray(image.convert("RGB").resize((SIDE, SIDE), Image.BILINEAR)).transpose(2, 0, 1)
        except OSError:
            raise PyrossError(f"{path} is listed in list_attr_celeba.txt but is not a readable image") from None
    return torch.as_tensor(images.reshape(len(files), -1))


def load_celeba(data_dir=None, attributes=None):
    """CelebA with the chosen binary attributes.

    :param str data_dir: the folder with torchvision's ``celeba`` files.
    :param attributes: attribute names (default :data:`EASY_ATTRIBUTES`).
    :returns: a :class:`~pyross.data.Dataset` with labels ``(N, L)`` of 0/1 and images 3x64x64.
    :raises PyrossError: for missing or malformed files and unknown attribute names.
    """
    root = _root(data_dir)
    names, files, values = read_attributes(os.path.join(root, FILES[1]))
    attributes = tuple(attributes or EASY_ATTRIBUTES)
    for name in attributes:
        if name not in names:
            raise unknown_name("CelebA attribute", name, names)
    partition = read_partition(os.path.join(root, FILES[2]))
    unlisted = [f for f in files if f not in partition]
    if unlisted:
        raise PyrossError(f"{unlisted[0]} (and {len(unlisted) - 1} more) are not in list_eval_partition.txt")
    folder = os.path.join(root, FILES[0])
    pixels = cached(f"celeba|{os.path.abspath(folder)}|{SIDE}", fingerprint([os.path.join(root, FILES[1])]),
                    lambda: _decode(folder, files))
    labels = torch.as_tensor(values[:, [names.index(a) for a in attributes]])
    split = torch.tensor([partition[f] for f in files])
    parts = [Split(pixels[split == p], labels[split == p], levels=255) for p in (0, 1, 2)]
    return Dataset(name="celeba", train=parts[0], valid=parts[1], test=parts[2], image_shape=(3, SIDE, SIDE),
                   class_names=attributes, source=f"CelebA files in {root}")
