"""A disk cache of decoded data, read back while its source is unchanged.

Decoding some sources costs far more time and memory than reading tensors back (an image
folder; the pickled MNIST, whose unpickling holds several copies of the floats at once). The
result is saved under :func:`cache_dir` with a fingerprint of the source (sizes and
modification times), and read back while the fingerprint matches.
"""
import hashlib
import os

import torch


def cache_dir():
    """Where decoded data are cached: ``$PYROSS_CACHE`` or ``~/.cache/pyross/decoded``."""
    return os.environ.get("PYROSS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "pyross", "decoded")


def fingerprint(paths):
    """A hash of the names, sizes and modification times of ``paths``: it changes when any file does."""
    h = hashlib.sha1()
    for path in paths:
        stat = os.stat(path)
        h.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cached(key, stamp, compute):
    """``compute()``, or its result saved by an earlier call with the same ``key`` and ``stamp``.

    :param str key: what is decoded, e.g. a folder and the options it is decoded with.
    :param stamp: a fingerprint of the source (:func:`fingerprint`); another stamp recomputes.
    :param compute: makes the value: tensors, or lists, tuples and dicts of tensors and strings.
    """
    path = os.path.join(cache_dir(), hashlib.sha1(key.encode()).hexdigest() + ".pt")
    if os.path.exists(path):
        try:
            saved = torch.load(path, weights_only=True)
            if saved["stamp"] == stamp:
                return saved["value"]
        except Exception:  # a broken cache is decoded again, never trusted  # noqa: BLE001
            pass
    value = compute()
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        torch.save({"stamp": stamp, "value": value}, path + ".tmp")
        os.replace(path + ".tmp", path)
    except OSError:  # a read-only home: decode every time
        pass
    return value
