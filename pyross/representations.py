"""The representation study (seed 002, task 2.3): how good are VAE and DAE codes for
classification with few labels?

For each number of labels ``l``, ``l`` training images keep their label (``l / K`` per class,
drawn with the seed); off-the-shelf classifiers (:mod:`pyross.estimators`) are trained on
those images only, on three representations of them: the VAE's latent means, the DAE's
codes (both learned from every training image without labels) and the raw pixels. Their
test accuracy answers "does unlabelled data help, and which representation helps most?".

Each result is appended to ``results.jsonl`` as soon as it is measured, so an interrupted
study resumes where it stopped.
"""
import json
import os
import time

import torch
from tqdm.auto import tqdm

from .data import select_labelled
from .estimators import fit, make_estimator

#: the classifiers trained on raw pixels (seed 002: "also train an MLP on the original image data")
PIXEL_CLASSIFIERS = ("mlp",)


@torch.no_grad()
def encode(model, x, batch_size=1000):
    """The representation ``model.encode`` of images ``x``, in ``eval`` mode, as a numpy array."""
    model.eval()
    return torch.cat([model.encode(xb) for xb in x.split(batch_size)]).cpu().numpy()


def cells(label_counts, representations, classifiers):
    """The ``(labels, representation, classifier)`` combinations of the study, in order."""
    return [(labels, name, clf) for labels in label_counts for name in representations
            for clf in (PIXEL_CLASSIFIERS if name == "pixels" else classifiers)]


def _read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_study(features, dataset, label_counts, classifiers, seed, results_path, progress=True):
    """Measure the test accuracy of every classifier on every representation and label count.

    :param features: representation name → ``(train_features, test_features)`` numpy arrays.
    :param dataset: the :class:`~pyross.data.Dataset` (its labels).
    :param label_counts: numbers of labelled images (ints, or ``"all"``).
    :param classifiers: names of :data:`~pyross.estimators.ESTIMATORS`.
    :param str results_path: the ``results.jsonl`` to append to; cells already there are skipped.
    :returns: all results, one dict per cell.
    """
    done = {(str(r["labels"]), r["representation"], r["classifier"]): r for r in _read(results_path)}
    todo = cells(label_counts, list(features), classifiers)
    y_train, y_test = dataset.train.y.numpy(), dataset.test.y.numpy()
    results = []
    for labels, name, clf in tqdm(todo, desc="representation study", disable=not progress, unit="classifier"):
        key = (str(labels), name, clf)
        if key not in done:
            idx = select_labelled(dataset.train.y, labels, dataset.num_classes, seed)[0].numpy()
            train, test = features[name]
            start = time.perf_counter()
            estimator = fit(make_estimator(clf, seed), train[idx], y_train[idx])
            accuracy = float((estimator.predict(test) == y_test).mean())
            done[key] = {"labels": labels, "n_labelled": len(idx), "representation": name, "classifier": clf,
                         "test_accuracy": accuracy, "seconds": round(time.perf_counter() - start, 2)}
            with open(results_path, "a") as f:
                f.write(json.dumps(done[key]) + "\n")
        results.append(done[key])
    return results


def results_table(results):
    """A markdown table: one row per number of labels, one column per representation and
    classifier, test accuracy in %."""
    columns = list(dict.fromkeys((r["representation"], r["classifier"]) for r in results))
    rows = list(dict.fromkeys(r["n_labelled"] for r in results))
    value = {(r["n_labelled"], r["representation"], r["classifier"]): r["test_accuracy"] for r in results}
    lines = ["| labels | " + " | ".join(f"{name} + {clf}" for name, clf in columns) + " |",
             "| ---: | " + " | ".join("---:" for _ in columns) + " |"]
    for n in rows:
        cells_ = [f"{100 * value[(n, *c)]:.2f}" if (n, *c) in value else "–" for c in columns]
        lines.append(f"| {n:,} | " + " | ".join(cells_) + " |")
    return "\n".join(lines)
