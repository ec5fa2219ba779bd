"""The training loop: SVI steps over batches, evaluation, metrics and checkpoints per epoch.

One epoch is one pass over the unlabelled images (over the labelled ones when there are no
unlabelled images); the labelled batches cycle, a fresh shuffle each time round, so every
step takes one labelled and one unlabelled batch. The order of the data in epoch ``e`` is
drawn from ``(seed, e)`` alone, which makes a resumed run see the same batches.
"""
import math
import time

import pyro
import torch
from tqdm.auto import tqdm

from .data import binarize, index_batches
from .data.semisupervised import random_shift
from .errors import PyrossError
from .evaluation import accuracy
from .objectives import SemiSupervisedELBO, make_svi
from .runs import BEST, LAST, SUMMARY


def _cycle(n, batch_size, generator, device):
    """Endless index batches over ``range(n)``, reshuffled after each pass."""
    while True:
        yield from index_batches(n, batch_size, generator, device)


def _checkpoint(model, svi, epoch, best):
    return {"model": model.state_dict(), "optim": svi.optim.get_state(), "epoch": epoch,
            "best": best, "rng": pyro.util.get_rng_state()}


class Trainer:
    """Fit a semi-supervised model on :class:`~pyross.data.SemiSupervisedData`.

    :param model: e.g. :class:`~pyross.models.M2`, on the data's device.
    :param data: the labelled / unlabelled partition and held-out splits.
    :param run: the :class:`~pyross.runs.Run` to write to.
    :param float alpha: weight of the classifier term (see :mod:`pyross.objectives`).
    :param int batch_size: images per labelled and per unlabelled batch.
    :param float lr: Adam's learning rate.
    :param int seed: seed of the data order and of the noise.
    :param int augment: shift labelled images by up to this many pixels (0: no augmentation).
    :param tuple image_shape: ``(C, H, W)`` of the images, for ``augment``.
    :param bool progress: show a progress bar.
    """

    def __init__(self, model, data, run, alpha, batch_size, lr, seed, augment=0, image_shape=None,
                 progress=True):
        self.model, self.data, self.run = model, data, run
        self.augment, self.image_shape = augment, image_shape
        self.batch_size, self.seed, self.progress = batch_size, seed, progress
        n_unlabelled = len(data.unlabelled)
        self.objective = SemiSupervisedELBO(model, alpha, len(data.labelled), data.n_train)
        self.svi = make_svi(model, self.objective, lr)
        self.steps_per_epoch = math.ceil((n_unlabelled or len(data.labelled)) / batch_size)
        self.epoch, self.best = 0, {"valid_accuracy": -1.0, "epoch": 0}
        self.last_valid = float("nan")  # validation accuracy of the last epoch, for the progress bar

    def resume(self):
        """Load ``last.pt`` of the run: weights, optimiser state, RNG state, epoch."""
        state = self.run.load_checkpoint(LAST, device=self.data.valid.x.device)
        try:
            self.model.load_state_dict(state["model"])
        except (KeyError, RuntimeError):
            raise PyrossError(f"{self.run.file(LAST)} does not hold this run's model") from None
        self.svi.optim.set_state(state["optim"])
        pyro.util.set_rng_state(state["rng"])
        self.epoch, self.best = state["epoch"], state["best"]
        self.run.truncate_metrics(self.epoch)

    def _batches(self, epoch):
        """The ``(labelled_idx, unlabelled_idx)`` pairs of one epoch."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        device = self.data.unlabelled.device
        labelled = _cycle(len(self.data.labelled), self.batch_size, generator, device)
        if len(self.data.unlabelled) == 0:
            return [(next(labelled), None) for _ in range(self.steps_per_epoch)]
        return [(next(labelled), u) for u in
                index_batches(len(self.data.unlabelled), self.batch_size, generator, device)]

    def train_epoch(self, epoch):
        """Take one epoch of SVI steps; return the mean of each loss term."""
        sums, bar = {}, tqdm(self._batches(epoch), desc=f"epoch {epoch} (valid {self.last_valid:.3f})",
                             leave=False, disable=not self.progress, unit="step")
        for step, (li, ui) in enumerate(bar, 1):
            x_labelled = random_shift(self.data.labelled.x[li], self.augment, self.image_shape)
            labelled = (binarize(x_labelled), self.data.labelled.y[li])
            unlabelled = None if ui is None else binarize(self.data.unlabelled[ui])
            loss = self.svi.step(labelled, unlabelled)
            if not math.isfinite(loss):
                raise PyrossError(f"loss became {loss} at epoch {epoch}, step {step}; "
                                  f"the last good checkpoint is {self.run.file(LAST)}")
            for k, v in {"loss": loss, **self.objective.terms}.items():
                sums[k] = sums.get(k, 0.0) + v
            if step % 20 == 0:
                bar.set_postfix(loss=f"{sums['loss'] / step:.2f}")
        return {k: v / len(bar) for k, v in sums.items()}

    def fit(self, epochs):
        """Train until ``epochs`` epochs are done, logging and checkpointing each one.

        :returns: the summary dict, also written to ``summary.json``.
        """
        while self.epoch < epochs:
            epoch = self.epoch + 1
            start = time.perf_counter()
            losses = self.train_epoch(epoch)
            seconds = time.perf_counter() - start
            record = {"epoch": epoch, **losses,
                      "valid_accuracy": accuracy(self.model, self.data.valid),
                      "test_accuracy": accuracy(self.model, self.data.test),
                      "seconds": round(seconds, 2)}
            if record["valid_accuracy"] > self.best["valid_accuracy"]:
                self.best = {"valid_accuracy": record["valid_accuracy"], "epoch": epoch}
                self.run.save_checkpoint(BEST, {"model": self.model.state_dict(), "epoch": epoch})
            self.run.log_metrics(record)
            self.epoch, self.last_valid = epoch, record["valid_accuracy"]
            self.run.save_checkpoint(LAST, _checkpoint(self.model, self.svi, epoch, self.best))
            tqdm.write(f"epoch {epoch:3d}  loss {record['loss']:8.2f}  valid {record['valid_accuracy']:.4f}"
                       f"  test {record['test_accuracy']:.4f}  {seconds:.1f} s")
        return self.summarize()

    def summarize(self):
        """Write ``summary.json``: test accuracy of the best-validation checkpoint."""
        self.model.load_state_dict(self.run.load_checkpoint(BEST, device=self.data.valid.x.device)["model"])
        metrics = self.run.metrics()
        summary = {"best_epoch": self.best["epoch"], "valid_accuracy": self.best["valid_accuracy"],
                   "test_accuracy": accuracy(self.model, self.data.test), "epochs": len(metrics),
                   "seconds_per_epoch": round(sum(m["seconds"] for m in metrics) / max(len(metrics), 1), 2)}
        self.run.write_json(SUMMARY, summary)
        return summary
