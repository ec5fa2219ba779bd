"""The dataset registry: a name on the command line → a loader function."""
import os

from ..errors import PyrossError, unknown_name
from .mnist import load_fashion_mnist, load_mnist

#: name → function ``(data_dir) -> Dataset``
DATASETS = {
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
}


def get_dataset(name, data_dir=None):
    """Load the dataset registered as ``name``.

    :param str name: a key of :data:`DATASETS`.
    :param str data_dir: optional folder to read the files from (checked to exist).
    :raises PyrossError: for an unknown name or a missing ``data_dir``.
    """
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    if data_dir is not None and not os.path.isdir(data_dir):
        raise PyrossError(f"--data-dir {data_dir!r} does not exist or is not a folder")
    return DATASETS[name](data_dir)
