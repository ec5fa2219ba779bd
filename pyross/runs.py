"""The run folder: everything one ``fit`` writes, and nothing else.

::

    runs/m2-20261121-101500/
        config.json      every option of the run, the data source, versions and machine
        metrics.jsonl    one JSON line per epoch: losses, accuracies, seconds
        last.pt          checkpoint after the last finished epoch (resume from here)
        best.pt          checkpoint of the epoch with the best validation accuracy
        summary.json     the final result: test accuracy of the best-validation checkpoint
        vae/             M1 only: the run folder of its VAE

Files are written atomically (to a temporary file, then renamed), so a killed run leaves
the previous version of each file intact.
"""
import json
import os
import pickle
import shutil
import zipfile

import torch

from .errors import PyrossError

CONFIG, METRICS, SUMMARY = "config.json", "metrics.jsonl", "summary.json"
LAST, BEST = "last.pt", "best.pt"
#: the sub-folder where M1 trains its VAE, a run folder of its own
VAE_DIR = "vae"


def _atomic_write(path, write):
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Run:
    """A run folder on disk.

    :param str path: the folder.
    """

    def __init__(self, path):
        self.path = path

    @classmethod
    def create(cls, path, config, overwrite=False):
        """Make a new run folder holding ``config.json``.

        :raises PyrossError: if ``path`` exists and is not empty, unless ``overwrite``.
        """
        if os.path.exists(path) and os.listdir(path) and not overwrite:
            raise PyrossError(f"{path!r} already exists and is not empty (use --overwrite to replace it)")
        os.makedirs(path, exist_ok=True)
        for name in (METRICS, SUMMARY, LAST, BEST):
            if os.path.exists(os.path.join(path, name)):
                os.remove(os.path.join(path, name))
        shutil.rmtree(os.path.join(path, VAE_DIR), ignore_errors=True)
        run = cls(path)
        run.write_json(CONFIG, config)
        return run

    @classmethod
    def open(cls, path):
        """Open an existing run folder.

        :raises PyrossError: if ``path`` is not a pyross run folder.
        """
        if not os.path.isfile(os.path.join(path, CONFIG)):
            raise PyrossError(f"{path!r} is not a pyross run folder (no {CONFIG})")
        return cls(path)

    def file(self, name):
        """Path of ``name`` inside the run folder."""
        return os.path.join(self.path, name)

    @property
    def config(self):
        """The run's options, as saved in ``config.json``."""
        return self.read_json(CONFIG)

    def read_json(self, name):
        """The JSON file ``name`` of the run folder.

        :raises PyrossError: if it is missing or not valid JSON.
        """
        try:
            with open(self.file(name)) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise PyrossError(f"cannot read {self.file(name)}: {e}") from None

    def write_json(self, name, obj):
        """Write ``obj`` as indented JSON to ``name``, atomically."""
        _atomic_write(self.file(name), lambda f: f.write(json.dumps(obj, indent=2).encode() + b"\n"))

    def metrics(self):
        """The lines of ``metrics.jsonl`` as a list of dicts."""
        if not os.path.exists(self.file(METRICS)):
            return []
        with open(self.file(METRICS)) as f:
            return [json.loads(line) for line in f if line.strip()]

    def log_metrics(self, record):
        """Append one epoch's ``record`` to ``metrics.jsonl``."""
        with open(self.file(METRICS), "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def truncate_metrics(self, last_epoch):
        """Drop metric lines after ``last_epoch`` (epochs a killed run logged but did not save)."""
        kept = [m for m in self.metrics() if m["epoch"] <= last_epoch]
        _atomic_write(self.file(METRICS), lambda f: f.write("".join(json.dumps(m) + "\n" for m in kept).encode()))

    def save_checkpoint(self, name, state):
        """Save ``state`` (a dict of tensors and plain values) as ``name``, atomically."""
        _atomic_write(self.file(name), lambda f: torch.save(state, f))

    def load_checkpoint(self, name, device="cpu"):
        """Load checkpoint ``name``.

        :raises PyrossError: if it is missing or unreadable.
        """
        path = self.file(name)
        if not os.path.exists(path):
            raise PyrossError(f"no checkpoint {path}")
        try:
            return torch.load(path, map_location=device, weights_only=False)
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
            raise PyrossError(f"checkpoint {path} is corrupt or not a pyross checkpoint ({type(e).__name__})") from None

    def restore(self, model, name, device="cpu"):
        """Load checkpoint ``name`` and put its weights into ``model``.

        :returns: the whole checkpoint dict.
        :raises PyrossError: if the checkpoint is unreadable or holds another model.
        """
        state = self.load_checkpoint(name, device)
        try:
            model.load_state_dict(state["model"])
        except (KeyError, RuntimeError, TypeError):
            raise PyrossError(f"{self.file(name)} does not hold this run's model") from None
        return state
