"""Markdown tables of finished runs, for ``docs/results.md`` and for comparing settings."""
import os

from .models import CLASSIFIERS
from .runs import SUMMARY, Run

#: the options shown for each run, in order
SHOWN = ("labels", "alpha", "lr", "batch_size", "augment", "augment_unlabelled", "seed")


def show_option(value):
    """An option value as typed on the command line: lists joined by commas."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _options(config):
    model = dict(config["model_options"])
    nested = model.pop("vae", None) or {}  # M1+M2: the options of its VAE
    parts = [f"{k}={config[k]}" for k in SHOWN if k in config]
    parts += [f"{k}={show_option(v)}" for k, v in model.items() if v is not None]
    parts += [f"vae.{k}={show_option(v)}" for k, v in nested.items() if v is not None]
    return " ".join(parts)


def _metric(run):
    """The validation metric of ``run``: name, scale and how the best is picked."""
    return ("accuracy", 100, max) if run.config["model"] in CLASSIFIERS else ("loss", 1, min)


def _label(path):
    """A short name for a run folder: its parent and its own name (``i20-paper/seed0``)."""
    parts = os.path.normpath(path).split(os.sep)
    return "/".join(parts[-2:])


def validation_curves(paths):
    """The validation curve of each run folder, for :func:`pyross.plots.plot_validation_curves`.

    :returns: ``(ylabel, {label: [(epoch, value), ...]})``; the value is the accuracy in %,
        or the mean loss per image for a model that does not classify.
    :raises PyrossError: if a path is not a run folder.
    """
    curves, names = {}, set()
    for path in paths:
        run = Run.open(path)
        name, scale, _ = _metric(run)
        names.add(name)
        curves[_label(path)] = [(m["epoch"], scale * m[f"valid_{name}"]) for m in run.metrics()]
    ylabel = "validation accuracy (%)" if names == {"accuracy"} else "validation " + " / ".join(sorted(names))
    return ylabel, curves


def runs_table(paths):
    """A markdown table with one row per run folder: options, the validation curve, the best
    epoch, the test result of its checkpoint and the seconds per epoch. The validation metric
    is the accuracy in %, or, for a run of a model that does not classify (VAE, DAE), the
    mean loss per image.

    :param paths: run folders (finished or not).
    :raises PyrossError: if a path is not a run folder.
    """
    rows = ["| run | options | validation accuracy (%) or loss, by epoch | best epoch | valid | test | s/epoch |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for path in paths:
        run = Run.open(path)
        metrics = run.metrics()
        name, scale, pick = _metric(run)
        curve = " ".join(f"{scale * m[f'valid_{name}']:.1f}" for m in metrics)
        best = pick(metrics, key=lambda m: m[f"valid_{name}"], default=None)
        summary = run.read_json(SUMMARY) if os.path.exists(run.file(SUMMARY)) else {}
        test = summary.get(f"test_{name}", best[f"test_{name}"] if best else None)
        seconds = sum(m["seconds"] for m in metrics) / max(len(metrics), 1)
        cells = [os.path.basename(os.path.normpath(path)), _options(run.config), curve,
                 str(best["epoch"]) if best else "–",
                 f"{scale * best[f'valid_{name}']:.2f}" if best else "–",
                 f"{scale * test:.2f}" if test is not None else "–", f"{seconds:.1f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
