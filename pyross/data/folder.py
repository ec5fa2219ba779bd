"""Your own images: ``--dataset folder:PATH``.

::

    PATH/labelled/<class>/*.png|jpg     the labelled images, one sub-folder per class
    PATH/unlabelled/**/*.png|jpg        the unlabelled images, at any depth
    PATH/test/<class>/*.png|jpg         optional: a test set with the same classes

Class names are the sub-folder names of ``labelled/``, sorted. The validation set (which
picks the best checkpoint) is a stratified slice of the labelled images, :data:`HELD_OUT`
of each class (at least one); without ``test/`` the same slice is also the test set, and the
loader says so. Images are converted to ``channels`` (1: grey, 3:
colour), resized to ``size`` x ``size`` and scaled to [0, 1]. Files that do not decode are
skipped and counted. The tensors are cached (:mod:`pyross.data.cache`), keyed by the folder and the
options, and read again only when a file was added, removed or changed. Images are decoded by
Pillow (torchvision's own decoders are deprecated since torchvision 0.29) and resized by
torchvision's transforms.
"""
import os
import sys

import torch

from ..errors import PyrossError
from .cache import cached, fingerprint
from .dataset import Dataset, Split

EXTENSIONS = (".png", ".jpg", ".jpeg")
#: share of each class's labelled images held out for validation
HELD_OUT = 0.2


def image_files(folder):
    """The image files under ``folder``, at any depth, sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(EXTENSIONS)]
    return found


def read_images(paths, size, channels):
    """Decode ``paths`` into ``(N, channels * size * size)`` in [0, 1].

    :returns: the images, and the indices of ``paths`` that could not be read.
    """
    from PIL import Image
    from torchvision.transforms.v2.functional import pil_to_tensor, resize

    mode = "L" if channels == 1 else "RGB"
    images, failed = [], []
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as opened:
                image = pil_to_tensor(opened.convert(mode))
        except (OSError, ValueError, SyntaxError):  # PIL's UnidentifiedImageError is an OSError
            failed.append(i)
            continue
        images.append(resize(image, [size, size], antialias=True).reshape(-1))
    x = torch.stack(images).float() / 255.0 if images else torch.zeros(0, channels * size * size)
    return x, failed


def _read_cached(root, groups, size, channels):
    """Decode every group of files (name → paths), through the cache."""
    paths = [p for group in groups.values() for p in group]

    def decode():
        x, failed = read_images(paths, size, channels)
        failed, result = set(failed), {}
        offset, start = 0, 0
        for name, group in groups.items():
            n_ok = sum(start + j not in failed for j in range(len(group)))
            result[name] = x[offset:offset + n_ok].clone()
            offset, start = offset + n_ok, start + len(group)
        return result, [paths[i] for i in sorted(failed)]

    return cached(f"folder|{os.path.abspath(root)}|{size}|{channels}", fingerprint(paths), decode)


def _classes(folder, what):
    if not os.path.isdir(folder):
        return None
    names = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if not names:
        raise PyrossError(f"{folder} has no class sub-folders: put the {what} images in {folder}/<class>/")
    return names


def load_folder(root, size=28, channels=1, seed=0, echo=None):
    """Load ``root`` laid out as in the module docstring.

    :param int size: images are resized to ``size`` x ``size``.
    :param int channels: 1 (grey) or 3 (colour).
    :param int seed: seed of the validation slice.
    :param echo: where to say what was held out and skipped (default: stderr).
    :raises PyrossError: naming the folder or class at fault.
    """
    echo = echo or (lambda message: print(message, file=sys.stderr))
    if not os.path.isdir(root):
        raise PyrossError(f"--dataset folder:{root}: no such folder")
    labelled_dir, unlabelled_dir, test_dir = (os.path.join(root, d) for d in ("labelled", "unlabelled", "test"))
    class_names = _classes(labelled_dir, "labelled")
    if class_names is None:
        raise PyrossError(f"{root} has no labelled/ folder: put the labelled images in {labelled_dir}/<class>/")
    groups = {}
    for name in class_names:
        groups[f"labelled/{name}"] = image_files(os.path.join(labelled_dir, name))
        if not groups[f"labelled/{name}"]:
            raise PyrossError(f"class {name!r} has no image in {os.path.join(labelled_dir, name)} "
                              f"(looked for {', '.join(EXTENSIONS)})")
    groups["unlabelled"] = image_files(unlabelled_dir) if os.path.isdir(unlabelled_dir) else []
    test_classes = _classes(test_dir, "test")
    if test_classes is not None:
        unknown = sorted(set(test_classes) - set(class_names))
        if unknown:
            raise PyrossError(f"{test_dir} has classes that labelled/ has not: {', '.join(unknown)}")
        for name in test_classes:
            groups[f"test/{name}"] = image_files(os.path.join(test_dir, name))
    decoded, skipped = _read_cached(root, groups, size, channels)
    if skipped:
        echo(f"warning: skipped {len(skipped)} file(s) under {root} that are not readable images, e.g. {skipped[0]}")

    def split(prefix, names):
        xs, ys = [], []
        for c, name in enumerate(class_names):
            if name in names:
                images = decoded[f"{prefix}/{name}"]
                xs.append(images)
                ys.append(torch.full((len(images),), c, dtype=torch.long))
        return Split(torch.cat(xs), torch.cat(ys))

    labelled = split("labelled", class_names)
    for c, name in enumerate(class_names):
        if not (labelled.y == c).any():
            raise PyrossError(f"class {name!r}: none of its images in {os.path.join(labelled_dir, name)} could be read")
    generator = torch.Generator().manual_seed(seed)
    held = torch.zeros(len(labelled), dtype=torch.bool)
    for c in range(len(class_names)):
        members = (labelled.y == c).nonzero().squeeze(1)
        n = max(1, round(HELD_OUT * len(members))) if len(members) > 1 else 0
        held[members[torch.randperm(len(members), generator=generator)[:n]]] = True
    valid = Split(labelled.x[held], labelled.y[held])
    unlabelled = decoded["unlabelled"]
    train = Split(torch.cat([labelled.x[~held], unlabelled]),
                  torch.cat([labelled.y[~held], torch.full((len(unlabelled),), -1, dtype=torch.long)]))
    message = f"{root}: held out {int(held.sum())} labelled images, stratified, for validation"
    if test_classes is None:
        test = valid
        message += "; no test/ folder, so they are the test set too"
    else:
        test = split("test", test_classes)
    echo(message)
    return Dataset(name=f"folder:{root}", train=train, valid=valid, test=test, image_shape=(channels, size, size),
                   class_names=tuple(class_names), source=f"image folder {os.path.abspath(root)}")
