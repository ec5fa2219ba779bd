"""The training loop: SVI steps over batches, evaluation, metrics and checkpoints per epoch.

One trainer serves every model; the objective (:mod:`pyross.objectives`) says which batches
a step reads. One epoch is one pass over the unlabelled images (over the labelled ones when
there are no unlabelled images); the labelled batches cycle, a fresh shuffle each time round,
so every step of M2 takes one labelled and one unlabelled batch. A model trained on labels
only (FF, M1's head) takes as many steps per epoch as M2 on the same data, so their epochs
compare step for step; a model trained without labels (VAE, DAE) reads every training image
as unlabelled. The order of the data in epoch ``e`` is drawn from ``(seed, e)`` alone, which
makes a resumed run see the same batches.

The best checkpoint is the epoch with the best validation accuracy, or, for a model that
does not classify, the lowest validation loss.

Under ``torchrun`` each process takes its slice of every batch and the gradients are
averaged (:mod:`pyross.distributed`); only rank 0 evaluates, prints and writes the run folder.
"""
import contextlib
import itertools
import math
import signal
import threading
import time

import pyro
import torch
from tqdm.auto import tqdm

from . import distributed
from .allocator import keep_freed_memory
from .averaging import WeightAverage
from .data import binarize, index_batches, random_shift
from .errors import Interrupted, PyrossError
from .evaluation import BATCH as EVAL_BATCH, accuracy
from .objectives import make_svi
from .precision import Precision
from .runs import BEST, LAST, SUMMARY


#: the values of ``lr_schedule``
LR_SCHEDULES = ("constant", "cosine")


def _cycle(n, batch_size, generator, device):
    """Endless index batches over ``range(n)``, reshuffled after each pass."""
    while True:
        yield from index_batches(n, batch_size, generator, device)


def check_augment(model, augment):
    """Raise a one-line error if ``augment`` asks to shift the images of a model that trains on
    features of its images computed once (M1+M2 with ``z1_from="grey"``), not on the images."""
    if augment and getattr(model, "fixed_features", False):
        raise PyrossError(f"--augment shifts the pixels of each batch, but this {type(model).__name__} trains on "
                          f"features of its images computed once: leave --augment at 0")


class _StopOnCtrlC:
    """While active, the first Ctrl-C only sets :attr:`requested` (the loop then saves and
    stops after the current step); a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested, self._previous = False, None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Trainer:
    """Fit a model on :class:`~pyross.data.SemiSupervisedData`.

    :param model: e.g. :class:`~pyross.models.M2`, on the data's device.
    :param objective: its training objective (:func:`~pyross.recipes.make_objective`).
    :param data: the labelled / unlabelled partition and held-out splits.
    :param run: the :class:`~pyross.runs.Run` to write to.
    :param int batch_size: images per unlabelled batch, and per labelled batch unless
        ``labelled_batch_size`` is given.
    :param float lr: Adam's learning rate.
    :param int seed: seed of the data order and of the noise.
    :param int augment: shift labelled images by up to this many pixels (0: no augmentation).
    :param bool augment_unlabelled: shift the unlabelled images too.
    :param tuple image_shape: ``(C, H, W)`` of the images, for ``augment``.
    :param bool progress: show a progress bar.
    :param int steps_per_epoch: steps of an epoch, the labelled and the unlabelled batches
        both cycling (default: one pass over the images, as the module docstring says).
    :param str precision: of the networks' arithmetic in the training steps, ``"float32"`` or
        a reduced one (:mod:`pyross.precision`).
    :param float ema: validate, test and keep as ``best.pt`` a moving average of the weights
        with this decay (:mod:`pyross.averaging`); 0: the weights themselves.
    :param str lr_schedule: ``"constant"``, or ``"cosine"``: the learning rate falls from ``lr``
        to 0 along half a cosine over the epochs of :meth:`fit`, step by step.
    :param int labelled_batch_size: images per labelled batch, when the objective reads both
        kinds (default: ``batch_size``). The authors of M2 make as many labelled batches as
        unlabelled ones, e.g. 1 labelled image and 499 unlabelled a step with 100 labels.
    """

    def __init__(self, model, objective, data, run, batch_size, lr, seed, augment=0, image_shape=None,
                 augment_unlabelled=False, progress=True, steps_per_epoch=None, precision="float32", ema=0.0,
                 lr_schedule="constant", labelled_batch_size=None):
        self.model, self.objective, self.data, self.run = model, objective, data, run
        keep_freed_memory()  # the steps reuse the memory they free (pyross.allocator)
        self.precision = Precision(precision, data.valid.device)
        self.precision.attach(model)
        self.average = WeightAverage(model, ema) if ema else None
        if lr_schedule not in LR_SCHEDULES:
            raise PyrossError(f"--lr-schedule must be one of {', '.join(LR_SCHEDULES)}, not {lr_schedule!r}")
        self.lr, self.lr_schedule, self.epochs = lr, lr_schedule, None
        self.augment, self.image_shape = augment, image_shape
        self.augment_unlabelled = augment if augment_unlabelled else 0
        #: the training images as the steps read them: the images, or the model's features of them,
        #: computed once here where the model asks for that (M1+M2 with ``z1_from="grey"``)
        self.inputs = data
        check_augment(model, augment)
        if getattr(model, "fixed_features", False):
            self.inputs = data.features(model.features)
        self.batch_size, self.seed = batch_size, seed
        reads_both = objective.uses_labelled and objective.uses_unlabelled
        self.labelled_batch_size = (labelled_batch_size if reads_both else None) or batch_size
        self.main = distributed.is_main()  # the process that evaluates and writes
        self.progress = progress and self.main
        distributed.check_batch_size(batch_size)
        distributed.check_batch_size(self.labelled_batch_size, "--labelled-batch-size")
        self.svi = make_svi(objective, lr, distributed.averaging(objective, model) if distributed.active() else None)
        distributed.broadcast_module(model)  # every process starts from rank 0's weights
        n_images = len(data.unlabelled) if objective.uses_unlabelled else data.n_train
        self.fixed_steps = steps_per_epoch
        self.steps_per_epoch = steps_per_epoch or math.ceil((n_images or len(data.labelled)) / batch_size)
        self.classifies = hasattr(model, "classifier")
        #: the validation metric that picks the best checkpoint, and its sign (+1: higher is better)
        self.metric, self.sign = ("valid_accuracy", 1) if self.classifies else ("valid_loss", -1)
        self.epoch, self.best = 0, {self.metric: -self.sign * math.inf, "epoch": 0}
        self.last_valid = None  # the metric of the last epoch, for the progress bar (none before the first)
        self.partial = None  # the unfinished epoch of a run stopped by Ctrl-C: step, loss sums, seconds
        self.stop = _StopOnCtrlC()

    def resume(self):
        """Load ``last.pt`` of the run: weights, optimiser state, RNG state, epoch."""
        state = self.run.restore(self.model, LAST, device=self.data.valid.device)
        try:
            self.svi.optim.set_state(state["optim"])
            pyro.util.set_rng_state(state["rng"])
            self.epoch, self.best, self.partial = state["epoch"], state["best"], state["partial"]
            if self.average is not None:
                self.average.load_state_dict(state["average"])
        except (KeyError, RuntimeError, TypeError):
            raise PyrossError(f"{self.run.file(LAST)} does not hold this run's model") from None
        self.run.truncate_metrics(self.epoch)
        finished = self.run.metrics()
        self.last_valid = finished[-1][self.metric] if finished else None

    def _batches(self, epoch):
        """The ``(labelled_idx, unlabelled_idx)`` pairs of one epoch (this process's slices)."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        device = self.data.unlabelled.device
        return [tuple(None if i is None else distributed.shard(i) for i in pair)
                for pair in self._global_batches(generator, device)]

    def _global_batches(self, generator, device):
        """The batches of one epoch before they are sliced between processes."""
        labelled = (_cycle(len(self.data.labelled), self.labelled_batch_size, generator, device)
                    if self.objective.uses_labelled else itertools.repeat(None))
        reads_unlabelled = len(self.data.unlabelled) > 0 and self.objective.uses_unlabelled
        if self.fixed_steps:
            unlabelled = (_cycle(len(self.data.unlabelled), self.batch_size, generator, device)
                          if reads_unlabelled else itertools.repeat(None))
            return [(next(labelled), next(unlabelled)) for _ in range(self.steps_per_epoch)]
        if not reads_unlabelled:
            return [(next(labelled), None) for _ in range(self.steps_per_epoch)]
        return [(next(labelled), u) for u in
                index_batches(len(self.data.unlabelled), self.batch_size, generator, device)]

    def save_last(self):
        """Write ``last.pt``: weights, optimiser and RNG states, finished epochs, unfinished epoch."""
        self.run.save_checkpoint(LAST, {
            "model": self.model.state_dict(), "optim": self.svi.optim.get_state(), "epoch": self.epoch,
            "best": self.best, "partial": self.partial, "rng": pyro.util.get_rng_state(),
            "average": self.average and self.average.state_dict()})

    def _prepare(self, x):
        """Images as the model reads them: binarised afresh, grey levels, or what the model's
        own ``prepare`` makes of them (M1+M2: a code drawn from the frozen encoder, or from the
        features of :attr:`inputs`)."""
        if hasattr(self.model, "prepare"):
            return self.model.prepare(x)
        return binarize(x) if self.model.binary_data else x

    @staticmethod
    def _checks(first):
        """The validation of the first step of an epoch (or of a resumed one): Pyro's and torch's
        checks of shapes, supports and distribution parameters, as set (on by default); the other
        steps run without them. They compute nothing the loss uses, so the steps are the same;
        a NaN later on still stops the run (the loss is checked at every step)."""
        return contextlib.nullcontext() if first else pyro.validation_enabled(False)

    def train_epoch(self, epoch):
        """Take one epoch of SVI steps (the rest of it, after a Ctrl-C).

        :returns: the mean of each loss term and the seconds the epoch took.
        :raises Interrupted: after saving the unfinished epoch, when Ctrl-C was pressed.
        """
        partial, self.partial = self.partial or {"step": 0, "sums": {}, "seconds": 0.0}, None
        if distributed.active():  # each process draws noise of its own
            pyro.set_rng_seed((self.seed * 100_003 + epoch) * 1009 + distributed.rank())
        start, sums = time.perf_counter() - partial["seconds"], partial["sums"]
        batches = self._batches(epoch)
        shown = "" if self.last_valid is None else f" ({self.metric} {self.last_valid:.3f})"
        bar = tqdm(batches, desc=f"epoch {epoch}{shown}", leave=False,
                   disable=not self.progress, unit="step", initial=partial["step"])
        for step, (li, ui) in enumerate(batches[partial["step"]:], partial["step"] + 1):
            labelled = None if li is None else (
                self._prepare(random_shift(self.inputs.labelled.images(li), self.augment, self.image_shape)),
                self.inputs.labelled.y[li])
            unlabelled = None if ui is None else self._prepare(
                random_shift(self.inputs.unlabelled.images(ui), self.augment_unlabelled, self.image_shape))
            done = epoch - 1 + (step - 1) / len(batches)  # epochs of training before this step
            if hasattr(self.objective, "set_progress"):  # a schedule over training (the VAE's KL warm-up)
                self.objective.set_progress(done)
            if self.lr_schedule == "cosine":
                self.svi.optim.lr = self.lr * 0.5 * (1 + math.cos(math.pi * done / (self.epochs or epoch)))
            try:
                with self.precision(), self._checks(step == partial["step"] + 1):
                    loss = self.svi.step(labelled, unlabelled)
            except ValueError:  # Pyro's check of distribution parameters, once they are NaN
                if all(torch.isfinite(p).all() for p in self.model.parameters()):
                    raise
                loss = float("nan")
            if self.average is not None:
                self.average.update()
            if not math.isfinite(loss):
                saved = (f"{self.run.file(LAST)} holds epoch {self.epoch}" if self.epoch
                         else "no epoch had finished, nothing was saved")
                raise PyrossError(f"loss became {loss} at epoch {epoch}, step {step}; {saved}; "
                                  f"try a smaller --lr")
            for k, v in {"loss": loss, **self.objective.terms}.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update()
            if step % 20 == 0:
                bar.set_postfix(loss=f"{sums['loss'] / step:.2f}")
            if distributed.any_process(self.stop.requested) and step < len(batches):
                bar.close()
                self.partial = {"step": step, "sums": sums, "seconds": time.perf_counter() - start}
                if self.main:
                    self.save_last()
                raise Interrupted(f"stopped by Ctrl-C in epoch {epoch} after step {step}; saved in "
                                  f"{self.run.file(LAST)}; continue with: fit {self.run.config['model']} "
                                  f"--resume {self.run.path}")
        bar.close()
        return {k: v / len(batches) for k, v in sums.items()}, time.perf_counter() - start

    def fit(self, epochs):
        """Train until ``epochs`` epochs are done, logging and checkpointing each one.

        :returns: the summary dict, also written to ``summary.json`` (``None`` in the processes
            other than rank 0).
        """
        self.epochs = epochs
        with self.stop:
            while self.epoch < epochs:
                self.finish_epoch(self.epoch + 1)
        return self.summarize() if self.main else None

    @torch.no_grad()
    def mean_loss(self, split):
        """Mean objective loss of a held-out split, for a model that does not classify."""
        was_training = self.model.training
        self.model.eval()
        try:
            return sum(self.objective.loss(self._prepare(x)).item() * len(x)
                       for x, _ in split.batches(EVAL_BATCH)) / len(split)
        finally:
            self.model.train(was_training)

    def evaluate(self, split):
        """Accuracy (``"accuracy"``) or mean loss (``"loss"``) of the model on ``split``."""
        return accuracy(self.model, split) if self.classifies else self.mean_loss(split)

    def evaluated_weights(self):
        """The block in which the model holds the weights that are evaluated and kept as the best:
        their moving average with ``ema``, else the weights themselves."""
        return self.average.applied() if self.average is not None else contextlib.nullcontext()

    def finish_epoch(self, epoch):
        """Train epoch ``epoch``, evaluate, log its metrics and save the checkpoints."""
        losses, seconds = self.train_epoch(epoch)
        if not self.main:
            self.epoch = epoch
            return
        name = self.metric.split("_")[1]
        # with --ema, the weights themselves too, to see what averaging changes (the same steps as without it)
        own = {f"valid_{name}_unaveraged": self.evaluate(self.data.valid)} if self.average is not None else {}
        with self.evaluated_weights():
            record = {"epoch": epoch, **losses, f"valid_{name}": self.evaluate(self.data.valid),
                      f"test_{name}": self.evaluate(self.data.test), **own, "seconds": round(seconds, 2)}
            if self.sign * record[self.metric] > self.sign * self.best[self.metric]:
                self.best = {self.metric: record[self.metric], "epoch": epoch}
                self.run.save_checkpoint(BEST, {"model": self.model.state_dict(), "epoch": epoch})
        self.run.log_metrics(record)
        self.epoch, self.last_valid = epoch, record[self.metric]
        self.save_last()
        tqdm.write(f"epoch {epoch:3d}  loss {record['loss']:8.2f}  valid {name} {record[f'valid_{name}']:.4f}"
                   f"  test {name} {record[f'test_{name}']:.4f}  {seconds:.1f} s")

    def summarize(self):
        """Write ``summary.json``: the test accuracy (or loss) of the best-validation checkpoint."""
        self.run.restore(self.model, BEST, device=self.data.valid.device)
        metrics = self.run.metrics()
        name = self.metric.split("_")[1]
        summary = {"best_epoch": self.best["epoch"], self.metric: self.best[self.metric],
                   f"test_{name}": self.evaluate(self.data.test), "epochs": len(metrics),
                   "seconds_per_epoch": round(sum(m["seconds"] for m in metrics) / max(len(metrics), 1), 2)}
        self.run.write_json(SUMMARY, summary)
        return summary
