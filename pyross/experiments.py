"""Experiments over many runs: accuracy against the number of labels (the paper's Table 1)
and against the number of unlabelled images (seed 000's figure).

An experiment is a grid of run folders ``OUT/<model>-labels<L>-unlabelled<U>-seed<S>/``.
Running it again skips finished runs and resumes interrupted ones
(:func:`~pyross.fitting.ensure_trained`), so a long experiment can be stopped and restarted
at any time. ``smoke`` shrinks every run (tiny networks, one epoch, at most 1,000
unlabelled images) so that the whole pipeline can be checked in seconds.
"""
import json
import os
import statistics

from tqdm.auto import tqdm

from .fitting import ensure_trained, new_config, takes_option
from .runs import SUMMARY

#: Kingma et al. (2014), Table 1: test error (%) on MNIST by number of labels, for the
#: paper's model matching each pyross model (FF ~ NN, M1 ~ M1+TSVM)
PAPER_ERRORS = {
    "ff": {100: "25.81", 600: "11.44", 1000: "10.7", 3000: "6.04"},
    "m1": {100: "11.82 ± 0.25", 600: "5.72 ± 0.049", 1000: "4.24 ± 0.07", 3000: "3.49 ± 0.04"},
    "m2": {100: "11.97 ± 1.71", 600: "4.94 ± 0.13", 1000: "3.60 ± 0.56", 3000: "3.92 ± 0.63"},
    "m1m2": {100: "3.33 ± 0.14", 600: "2.59 ± 0.05", 1000: "2.40 ± 0.02", 3000: "2.18 ± 0.04"},
}
PAPER_NAMES = {"ff": "NN", "m1": "M1+TSVM", "m2": "M2", "m1m2": "M1+M2"}

#: what ``smoke`` overrides, for every model (options a model does not take are dropped)
SMOKE = {"epochs": 1, "vae_epochs": 1, "hidden": [16], "decoder_hidden": [16], "classifier": "mlp",
         "classifier_hidden": [16], "z_dim": 2}
#: the most unlabelled images a smoke run reads, when a count is asked for
SMOKE_UNLABELLED = 1000


def run_name(model, labels, unlabelled, seed, preset=None):
    """The folder name of one cell of the grid (with the preset after the model, if any: runs
    of two presets never share a folder)."""
    return f"{model}{'-' + preset if preset else ''}-labels{labels}-unlabelled{unlabelled}-seed{seed}"


def cell_config(model, labels, unlabelled, seed, options, smoke=False, preset=None):
    """The config of one run of the grid: ``options`` (e.g. ``dataset``, ``data_dir``,
    ``epochs``) over the ``preset`` over the model's defaults, ``smoke`` over everything.

    :raises PyrossError: for a preset the model does not have.
    """
    given = {**options, "labels": labels, "unlabelled": unlabelled, "seed": seed}
    if smoke:
        given.update(SMOKE)
        if unlabelled != "all":
            given["unlabelled"] = min(unlabelled, SMOKE_UNLABELLED)
    return new_config(model, preset, **{k: v for k, v in given.items() if takes_option(model, k)})


def run_grid(out, cells, options, device="cpu", smoke=False, progress=True, echo=print, preset=None):
    """Train every ``(model, labels, unlabelled, seed)`` of ``cells`` into ``out`` (finished
    runs are skipped, interrupted ones resumed), each with the model's ``preset`` if given.

    :returns: one dict per cell: the cell and its test accuracy.
    """
    os.makedirs(out, exist_ok=True)
    results = []
    for model, labels, unlabelled, seed in tqdm(cells, desc="experiment", unit="run", disable=not progress):
        path = os.path.join(out, run_name(model, labels, unlabelled, seed, preset))
        config = cell_config(model, labels, unlabelled, seed, options, smoke, preset)
        if not os.path.exists(os.path.join(path, SUMMARY)):
            echo(f"run {path}")
        run = ensure_trained(path, config, device, progress, echo)
        summary = run.read_json(SUMMARY)
        results.append({"model": model, "labels": labels, "unlabelled": unlabelled, "seed": seed,
                        "test_accuracy": summary["test_accuracy"], "run": path})
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    return results


def _mean_sd(values):
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return mean, sd


def error_table(results, key, paper=False):
    """A markdown table of test error (%), mean ± standard deviation over seeds: one row per
    value of ``key`` (``"labels"`` or ``"unlabelled"``), one column per model; with ``paper``,
    the paper's Table 1 beside each model."""
    models = list(dict.fromkeys(r["model"] for r in results))
    rows = list(dict.fromkeys(r[key] for r in results))
    header = [key]
    for m in models:
        header.append(f"{m} (pyross)")
        if paper:
            header.append(paper_label(m))
    lines = ["| " + " | ".join(header) + " |", "|" + " ---: |" * len(header)]
    for value in rows:
        cells = [str(value)]
        for m in models:
            errors = [100 * (1 - r["test_accuracy"]) for r in results if r["model"] == m and r[key] == value]
            mean, sd = _mean_sd(errors)
            cells.append(f"{mean:.2f} ± {sd:.2f} (n={len(errors)})" if len(errors) > 1 else f"{mean:.2f} (n=1)")
            if paper:
                cells.append(PAPER_ERRORS.get(m, {}).get(value, "–"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_label(model):
    """The name of the paper's model matching ``model``, as a column or a line is labelled."""
    return f"{PAPER_NAMES.get(model, model)} (paper)"


def paper_points(models, labels):
    """The paper's Table 1 as accuracy points, ``{"M2 (paper)": [(labels, accuracy, sd), ...]}``,
    for the ``models`` the paper has and the label counts of ``labels`` it reports."""
    points = {}
    for m in models:
        for n in labels:
            error = PAPER_ERRORS.get(m, {}).get(n)
            if error is not None:
                mean, _, sd = error.partition(" ± ")
                point = (n, 1 - float(mean) / 100, float(sd or 0) / 100)
                points.setdefault(paper_label(m), []).append(point)
    return points


def paper_styles(models, reported):
    """Line styles that give each model and the paper's line for it (dashed) one colour."""
    styles = {}
    for i, m in enumerate(models):
        styles[m] = {"color": f"C{i % 10}"}
        if paper_label(m) in reported:
            styles[paper_label(m)] = {"color": f"C{i % 10}", "linestyle": "--", "marker": "s"}
    return styles


def accuracy_points(results, key):
    """``{model: [(value, mean accuracy, sd), ...]}`` over seeds, for plotting against ``key``."""
    points = {}
    for m in dict.fromkeys(r["model"] for r in results):
        for value in dict.fromkeys(r[key] for r in results if r["model"] == m):
            mean, sd = _mean_sd([r["test_accuracy"] for r in results if r["model"] == m and r[key] == value])
            points.setdefault(m, []).append((value, mean, 0.0 if sd != sd else sd))
    return points
