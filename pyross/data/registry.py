"""The dataset registry: a name on the command line → a loader function."""
import os

from ..errors import PyrossError, unknown_name
from .celeba import load_celeba
from .folder import load_folder
from .mnist import load_fashion_mnist, load_mnist
from .shapes import load_shapes
from .svhn import load_svhn

#: prefix of a user's image folder: ``folder:PATH`` (see :mod:`pyross.data.folder`)
FOLDER = "folder:"

#: name → function ``(data_dir) -> Dataset``
DATASETS = {
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "svhn": load_svhn,
    "shapes": load_shapes,
    "celeba": load_celeba,
}


def get_dataset(name, data_dir=None, image_size=None, channels=None, seed=0, attributes=None):
    """Load the dataset registered as ``name``, or the image folder ``folder:PATH``.

    :param str name: a key of :data:`DATASETS`, or ``folder:PATH``.
    :param str data_dir: optional folder to read the files from (checked to exist).
    :param int image_size: image folders: the side images are resized to (default 28).
    :param int channels: image folders: 1 (grey, the default) or 3 (colour).
    :param int seed: image folders: seed of the validation slice.
    :param attributes: CelebA: the attribute names to read (default: the 18 of Joy et al.).
    :raises PyrossError: for an unknown name, a missing ``data_dir``, or folder options
        given for a benchmark dataset.
    """
    if name.startswith(FOLDER):
        return load_folder(name[len(FOLDER):], image_size or 28, channels or 1, seed)
    for option, value in (("--image-size", image_size), ("--channels", channels)):
        if value is not None:
            raise PyrossError(f"{option} applies to image folders (--dataset folder:PATH) only")
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    if data_dir is not None and not os.path.isdir(data_dir):
        raise PyrossError(f"--data-dir {data_dir!r} does not exist or is not a folder")
    if name == "celeba":
        return load_celeba(data_dir, attributes)
    if attributes is not None:
        raise PyrossError("--attributes applies to --dataset celeba only")
    return DATASETS[name](data_dir)
