"""Label new images with a trained run: ``pyross predict RUN_DIR INPUT...``.

Each input is an image file or a folder (searched at any depth for ``.png``/``.jpg``). The
images are read as the run's training images were (channels and size from its
``config.json``), classified in batches by the best checkpoint, and written as CSV rows:
the path, the predicted class, the next ``top_k - 1`` classes, one probability per class,
and an error message for a file that could not be read (its other cells are empty).
"""
import csv
import math
import os
from types import SimpleNamespace

import torch
from tqdm.auto import tqdm

from .data.folder import image_files, read_images
from .errors import PyrossError
from .fitting import build_model, dataset_of
from .models import CLASSIFIERS
from .runs import BEST


def input_paths(inputs):
    """The files to classify: each input file as given, each folder's image files."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            paths += image_files(item)
        elif os.path.exists(item):
            paths.append(item)
        else:
            raise PyrossError(f"{item!r}: no such file or folder")
    return paths


def load_trained(run, device="cpu", checkpoint=BEST):
    """The model of ``run`` with the weights of ``checkpoint``, in ``eval`` mode, with its
    class names and image shape ``(C, H, W)`` (from ``config.json``; no data are loaded)."""
    config = run.config
    if "class_names" in config:
        names, shape = config["class_names"], tuple(config["image_shape"])
    else:  # a run folder from before the class names were recorded
        dataset = dataset_of(config)
        names, shape = list(dataset.class_names), dataset.image_shape
    shapes = SimpleNamespace(x_dim=math.prod(shape), num_classes=len(names), image_shape=shape,
                             multilabel=config.get("multilabel", False))
    net = build_model(config, shapes).to(device)
    run.restore(net, checkpoint, device=device)
    return net.eval(), names, shape


def require_classifier(run):
    """Raise a one-line error unless the model of ``run`` classifies."""
    model = run.config["model"]
    if model not in CLASSIFIERS:
        raise PyrossError(f"{run.path!r} is a {model} run, which does not classify; "
                          f"use a run of {', '.join(CLASSIFIERS)}")


def load_classifier(run, device="cpu"):
    """:func:`load_trained` for a model that classifies.

    :raises PyrossError: if the run's model does not classify.
    """
    require_classifier(run)
    return load_trained(run, device)


@torch.no_grad()
def predict_rows(net, names, shape, paths, top_k=1, batch_size=256, device="cpu", progress=True):
    """Yield one dict per path: ``path``, ``prediction``, ``top_2``... , ``p_<class>``..., ``error``.
    For a multi-label model the prediction is the attributes with probability above 1/2,
    separated by spaces, and ``p_<attribute>`` each attribute's probability."""
    multilabel = getattr(net, "multilabel", False)
    channels, size, _ = shape
    bar = tqdm(total=len(paths), unit="image", disable=not progress or len(paths) < 1000, desc="predict")
    for start in range(0, len(paths), batch_size):
        batch = paths[start:start + batch_size]
        x, failed = read_images(batch, size, channels)
        logits = net.classifier(x.to(device)).cpu() if len(x) else None
        probs = None if logits is None else torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)
        row_of_image = iter(range(len(x)))
        for i, path in enumerate(batch):
            row = {"path": path}
            if i in failed:
                row["error"] = "not a readable image"
            else:
                p = probs[next(row_of_image)]
                if multilabel:
                    row["prediction"] = " ".join(name for name, v in zip(names, p.tolist()) if v > 0.5)
                else:
                    ranked = p.argsort(descending=True)[:top_k].tolist()
                    row["prediction"] = names[ranked[0]]
                    row.update({f"top_{k + 1}": names[c] for k, c in enumerate(ranked[1:], 1)})
                row.update({f"p_{name}": f"{v:.6f}" for name, v in zip(names, p.tolist())})
            yield row
        bar.update(len(batch))
    bar.close()


def write_csv(rows, names, top_k, stream):
    """Write ``rows`` as CSV with a header to ``stream``."""
    columns = ["path", "prediction", *[f"top_{k}" for k in range(2, top_k + 1)],
               *[f"p_{name}" for name in names], "error"]
    writer = csv.DictWriter(stream, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
