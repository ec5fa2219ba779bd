"""Markdown tables of finished runs, for ``docs/results.md`` and for comparing settings."""
import os

from .runs import SUMMARY, Run

#: the options shown for each run, in order
SHOWN = ("labels", "alpha", "lr", "batch_size", "augment", "augment_unlabelled", "seed")


def _options(config):
    model = config["model_options"]
    parts = [f"{k}={config[k]}" for k in SHOWN if k in config]
    parts += [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in model.items()
              if v is not None]
    return " ".join(parts)


def runs_table(paths):
    """A markdown table with one row per run folder: options, the validation-accuracy curve,
    the best epoch, the test accuracy of its checkpoint and the seconds per epoch.

    :param paths: run folders (finished or not).
    :raises PyrossError: if a path is not a run folder.
    """
    rows = ["| run | options | validation accuracy by epoch (%) | best epoch | valid (%) | test (%) | s/epoch |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for path in paths:
        run = Run.open(path)
        metrics = run.metrics()
        curve = " ".join(f"{100 * m['valid_accuracy']:.1f}" for m in metrics)
        best = max(metrics, key=lambda m: m["valid_accuracy"], default=None)
        summary = run.read_json(SUMMARY) if os.path.exists(run.file(SUMMARY)) else {}
        test = summary.get("test_accuracy", best["test_accuracy"] if best else None)
        seconds = sum(m["seconds"] for m in metrics) / max(len(metrics), 1)
        cells = [os.path.basename(os.path.normpath(path)), _options(run.config), curve,
                 str(best["epoch"]) if best else "–",
                 f"{100 * best['valid_accuracy']:.2f}" if best else "–",
                 f"{100 * test:.2f}" if test is not None else "–", f"{seconds:.1f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
