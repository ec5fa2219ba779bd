"""Seconds per epoch and peak memory of pyross's M2, of a hand-written PyTorch M2, and of the floor.

One epoch of M2 on MNIST with 100 labels: one pass over the 49,900 unlabelled images, batch
100, each step with a labelled and an unlabelled batch (499 steps). Three things, side by side:

``pyross``
    pyross's real training path: ``pyross fit m2 ... --epochs N`` run through its command line
    in this process (trainer, data, binarisation, augmentation, the evaluation of the validation
    and test sets, checkpoints and logging included). Each phase is timed on the way
    (:func:`timed_phases`), which gives where an epoch's time goes.
``torch``
    the fastest plain-PyTorch M2 of the same networks written here: the two bounds by hand with
    the classes broadcast against the batch (no repeated images), PyTorch's fused Adam, the same
    binarisation, augmentation and evaluation of both held-out sets each epoch. It uses what makes
    pyross faster beneath Pyro as well: the networks' softplus and the Bernoulli log-density of
    :mod:`pyross.fastmath`, and the allocator settings of :mod:`pyross.allocator`.
``floor``
    the matrix products and convolutions of one training step of ``torch`` (forward and
    backward), recorded once with their shapes, strides and dtypes (in a process of its own) and
    replayed on random tensors: the time of the arithmetic alone at this machine's throughput,
    times the steps of an epoch. Its FLOPs are counted from the shapes by
    :class:`torch.utils.flop_counter.FlopCounterMode`. Each ``pyross`` and ``torch`` process
    replays it in two ways: after its epochs, in one go (:meth:`Floor.block`), and sampled
    *during* its epochs, after every tenth training step (:class:`FloorDuringEpochs`, its own
    seconds left out of the epoch's). This machine's speed changes within an epoch, between
    regimes about a fifth apart, so a floor measured in the second after an epoch can land in
    another regime than most of its steps; the sampled floor sees the same ones as the epoch.
    The replayed tensors stay in memory; the peak memory reported is less what they took when
    they were made.
``import``
    a process that only imports torch and pyro: the baseline of the peak memory.

Two configurations: ``paper`` (Kingma et al.'s networks: 500 softplus units, z of 50, an MLP
classifier, no augmentation, lr 3e-4, alpha 0.1; a constant step and no average of the weights,
as in the paper and in the hand-written step, so that both do the same work) and ``default``
(``fit m2``'s defaults: a CNN classifier, shifted labelled images, batch norm). ``--precision bfloat16`` runs pyross with
``--precision bfloat16`` and the other two under ``torch.autocast`` with bfloat16.

Each implementation runs in a fresh process (its peak memory is its own); the rounds interleave
them, because this machine's speed drifts from minute to minute. Run from the repository root::

    python benchmarks/m2_epoch.py --config paper default --rounds 3
    python benchmarks/m2_epoch.py --config paper --precision bfloat16 --rounds 3
    python benchmarks/m2_epoch.py --config paper --jit --rounds 3  # pyross with Pyro's compiled ELBOs
    python benchmarks/m2_epoch.py --config paper --compile --epochs 2 --rounds 3  # its loss compiled whole
    python benchmarks/m2_epoch.py --config paper --compile --compile-torch --epochs 2 --rounds 3  # both compiled
    python benchmarks/m2_epoch.py --steps 50 --rounds 1        # a quick look: 50 steps an epoch

It prints each round, the median and the spread, the ratios and the peak memory, and writes
them as JSON with ``--json FILE``.
"""
import argparse
import contextlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

#: ``fit m2`` options of each configuration (what is not given is fit m2's default)
CONFIGS = {
    "paper": ["--classifier", "mlp", "--augment", "0", "--activation", "softplus", "--batch-norm", "none",
              "--z-dim", "50", "--hidden", "500", "--classifier-hidden", "500", "--decoder-hidden", "500",
              "--lr", "3e-4", "--alpha", "0.1", "--ema", "0", "--lr-schedule", "constant"],
    "default": [],
}
LABELS, BATCH, SEED = 100, 100, 0


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------- pyross

@contextlib.contextmanager
def timed_phases(device, sampler):
    """Wrap the phases of pyross's training path in timers; yields the list of its epochs, each
    ``{"seconds": of the whole epoch (training, evaluation, checkpoints, logging), "phases":
    {phase: seconds}}``. The floor is sampled after the training steps (``sampler``, a
    :class:`FloorDuringEpochs`); its seconds are left out of the epoch's."""
    import pyro
    from pyross import runs, train

    seconds, epochs, originals = {}, [], []

    def wrap(owner, name, phase):
        original = getattr(owner, name)
        originals.append((owner, name, original))

        def timed(*args, **kwargs):
            _synchronize(device)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                _synchronize(device)
                seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - start
        setattr(owner, name, timed)

    wrap(pyro.infer.SVI, "step", "training steps (SVI.step: forward, backward, Adam)")
    timed_step = pyro.infer.SVI.step

    def step_then_floor(*args, **kwargs):
        try:
            return timed_step(*args, **kwargs)
        finally:
            sampler.after_step()
    pyro.infer.SVI.step = step_then_floor
    wrap(train.Trainer, "_prepare", "data: binarisation")
    wrap(train, "random_shift", "data: drawing the batch, shifts")
    wrap(train.Trainer, "evaluate", "evaluation (validation and test sets)")
    wrap(runs.Run, "save_checkpoint", "checkpoints (last.pt and best.pt)")
    wrap(runs.Run, "log_metrics", "logging")
    original_epoch = train.Trainer.finish_epoch
    originals.append((train.Trainer, "finish_epoch", original_epoch))

    def epoch(self, *args):
        sampler.new_epoch()
        before, start = dict(seconds), time.perf_counter()
        original_epoch(self, *args)
        total = time.perf_counter() - start - sampler.seconds
        phases = {k: v - before.get(k, 0.0) for k, v in seconds.items()}
        phases["other (the loop, indexing, progress bar, loss terms)"] = total - sum(phases.values())
        epochs.append({"seconds": total, "phases": phases})
    train.Trainer.finish_epoch = epoch
    try:
        yield epochs
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def run_pyross(config, precision, epochs, steps, device, sampler, flags=()):
    """``pyross fit m2`` through its command line (with ``flags``, e.g. ``["--jit"]``), timed phase by
    phase, the floor sampled during its epochs (``sampler``)."""
    from pyross.cli import main
    with tempfile.TemporaryDirectory() as out:
        args = ["fit", "m2", *CONFIGS[config], "--epochs", str(epochs), "--device", device,
                "--seed", str(SEED), "--out", os.path.join(out, "run"), "--quiet"]
        args += ["--precision", precision] if precision != "float32" else []
        args += list(flags)
        args += ["--steps-per-epoch", str(steps)] if steps else []
        with timed_phases(device, sampler) as epochs_timed, contextlib.redirect_stdout(sys.stderr):
            try:
                main(args)
            except SystemExit as e:
                if e.code:
                    raise
        with open(os.path.join(out, "run", "metrics.jsonl")) as f:
            metrics = [json.loads(line) for line in f]
    return {"epoch_seconds": [e["seconds"] for e in epochs_timed], "phases": epochs_timed[-1]["phases"],
            "valid_accuracy": [m["valid_accuracy"] for m in metrics]}


# ---------------------------------------------------------------------------------------- torch

def negative_labelled_elbo(net, x, y_onehot):
    r"""Kingma's :math:`\mathcal{L}(x, y)` per image, one reparameterised sample of z; the Gaussian
    log-densities in closed form where they cancel (``log q(z) - log p(z)`` at the sample)."""
    from pyross.fastmath import bernoulli_log_prob
    loc, scale = net.encoder_z(x, y_onehot)
    eps = torch.randn_like(loc)
    z = loc + scale * eps
    logits = net.decoder(y_onehot, z)
    log_px = bernoulli_log_prob(logits, x).sum(-1)
    # log q(z|x,y) - log p(z) at z = loc + scale * eps (the 2 pi terms cancel)
    log_q_over_p = (-eps ** 2 / 2 - scale.log() + z ** 2 / 2).sum(-1)
    return -(log_px - math.log(net.num_classes) - log_q_over_p)


def torch_loss(net, x_l, y_l, x_u, alpha_weight, labelled_weight):
    """The step loss of pyross's ``SemiSupervisedELBO``, written with plain tensors."""
    from torch.nn import functional as F
    from pyross.nets import one_hot
    k = net.num_classes
    labelled = negative_labelled_elbo(net, x_l, one_hot(y_l, k)).mean()
    logits = net.encoder_y(x_u)
    classes = one_hot(torch.arange(k, device=x_u.device), k).unsqueeze(1)  # (K, 1, K) against (B, D)
    bound = negative_labelled_elbo(net, x_u, classes).T  # (B, K)
    log_q = logits.log_softmax(-1)
    unlabelled = (log_q.exp() * (bound + log_q)).sum(-1).mean()
    classifier = F.cross_entropy(net.encoder_y(x_l), y_l)
    return labelled_weight * labelled + unlabelled + alpha_weight * classifier


def torch_setup(config, device):
    """The network, data and options of ``config``, built as pyross builds them (the same networks)."""
    from pyross.fitting import build_model, dataset_of, load_data, new_config
    options = {"classifier": None, "augment": None, "activation": None, "batch_norm": None, "z_dim": None,
               "hidden": None, "classifier_hidden": None, "decoder_hidden": None, "lr": None, "alpha": None}
    flags = CONFIGS[config]
    for flag, value in zip(flags[::2], flags[1::2]):
        name = flag[2:].replace("-", "_")
        options[name] = [int(value)] if name.endswith("hidden") else type_of(name)(value)
    run_config = new_config("m2", **options, seed=SEED)
    torch.manual_seed(SEED)
    dataset = dataset_of(run_config)
    net = build_model(run_config, dataset).to(device)
    data = load_data(run_config, dataset, device)
    return net, data, dataset, run_config


def type_of(name):
    return {"augment": int, "z_dim": int, "lr": float, "alpha": float, "ema": float}.get(name, str)


def accuracy(net, split):
    from pyross.evaluation import BATCH
    net.eval()
    with torch.no_grad():
        right = sum((net.encoder_y(x).argmax(-1) == y).sum().item() for x, y in split.batches(BATCH))
    net.train()
    return right / len(split)


def torch_steps(net, data, dataset, run_config, precision, steps, device, compiled=False):
    """The step function of the hand-written M2 and the batches of an epoch; with ``compiled``, its
    loss compiled by :func:`torch.compile` (with softplus and the log-density written as expressions
    that the compiler fuses and differentiates: :func:`pyross.fastmath.fusable`)."""
    from pyross import fastmath
    from pyross.data import binarize, random_shift
    optimiser = torch.optim.Adam(net.parameters(), lr=run_config["lr"], fused=True)
    alpha_weight = run_config["alpha"] * data.n_train / len(data.labelled)
    labelled_weight = 1.0 if run_config["labelled_bound"] == "step" else len(data.labelled) / data.n_train
    shift, shape = run_config["augment"], dataset.image_shape
    autocast = (torch.autocast(device, dtype=torch.bfloat16) if precision == "bfloat16"
                else contextlib.nullcontext())
    generator = torch.Generator().manual_seed(SEED)
    n_l = len(data.labelled)

    def batch(ui):
        li = torch.randint(n_l, (BATCH,), generator=generator).to(device)
        x_l = binarize(random_shift(data.labelled.images(li), shift, shape))
        return x_l, data.labelled.y[li], binarize(data.unlabelled.images(ui))

    # on a CPU with the C++ wrapper that pyross's compiled step uses too (pyross.compiled.inductor_options)
    loss_of = torch.compile(torch_loss, options={"cpp_wrapper": device == "cpu"}) if compiled else torch_loss
    fusable = fastmath.fusable if compiled else contextlib.nullcontext

    def step(x_l, y_l, x_u):
        with autocast, fusable():
            loss = loss_of(net, x_l, y_l, x_u, alpha_weight, labelled_weight)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss

    def epoch(after_step):
        order = torch.randperm(len(data.unlabelled), generator=generator).to(device).split(BATCH)
        for ui in order[:steps or len(order)]:
            loss = step(*batch(ui))
            after_step()
        return loss.item()
    return step, batch, epoch


def run_torch(config, precision, epochs, steps, device, sampler, compiled=False):
    """Epochs of the hand-written M2 (each with the evaluation of both held-out sets; with ``compiled``,
    its loss compiled by :func:`torch.compile`), the floor sampled during them (``sampler``, its
    seconds left out of the epoch's).
    It keeps the memory it frees as pyross's trainer does (:mod:`pyross.allocator`)."""
    from pyross.allocator import keep_freed_memory
    keep_freed_memory()
    net, data, dataset, run_config = torch_setup(config, device)
    step, batch, epoch = torch_steps(net, data, dataset, run_config, precision, steps, device, compiled)
    seconds, valid = [], []
    for _ in range(epochs):
        sampler.new_epoch()
        _synchronize(device)
        start = time.perf_counter()
        epoch(sampler.after_step)
        valid.append(accuracy(net, data.valid))
        accuracy(net, data.test)
        _synchronize(device)
        seconds.append(time.perf_counter() - start - sampler.seconds)
    return {"epoch_seconds": seconds, "valid_accuracy": valid}


def record_floor(config, precision, device):
    """The products of one hand-written step of ``config`` (:func:`describe_calls`), its FLOPs, and
    the steps of an epoch: what each process of a round replays as its floor."""
    net, data, dataset, run_config = torch_setup(config, device)
    step, batch, _ = torch_steps(net, data, dataset, run_config, precision, None, device)
    flops, calls = record_step(step, batch(torch.arange(BATCH, device=device)))
    return {"calls": describe_calls(calls), "step_gflop": flops / 1e9, "epoch_steps": math.ceil(len(data.unlabelled) / BATCH)}


# ---------------------------------------------------------------------------------------- floor

#: the operators of the floor: matrix products and convolutions, forward and backward
ARITHMETIC = ("mm", "addmm", "bmm", "baddbmm", "convolution", "convolution_backward", "_convolution")


def record_arithmetic(step, inputs):
    """The matrix products and convolutions one call of ``step(*inputs)`` dispatches, with their
    arguments' shapes, strides and dtypes."""
    from torch.utils._python_dispatch import TorchDispatchMode

    calls = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket.__name__ in ARITHMETIC:
                describe = lambda a: ("T", tuple(a.shape), tuple(a.stride()), a.dtype, a.device) \
                    if isinstance(a, torch.Tensor) else a  # noqa: E731
                calls.append((func, [describe(a) for a in args], {k: describe(v) for k, v in (kwargs or {}).items()}))
            return func(*args, **(kwargs or {}))

    with Record():
        step(*inputs)
    return calls


def describe_calls(calls):
    """:func:`record_arithmetic`'s calls as JSON (the operator by name), for another process."""
    def plain(a):
        if isinstance(a, tuple) and a and a[0] == "T":
            _, shape, stride, dtype, dev = a
            return {"T": [list(shape), list(stride), str(dtype).removeprefix("torch."), str(dev)]}
        return [plain(b) for b in a] if isinstance(a, (list, tuple)) else a
    return [[str(func), [plain(a) for a in args], {k: plain(v) for k, v in kwargs.items()}] for func, args, kwargs in calls]


def calls_from_json(described):
    """The calls :func:`describe_calls` wrote, as :func:`record_arithmetic` returns them."""
    def back(a):
        if isinstance(a, dict) and "T" in a:
            shape, stride, dtype, dev = a["T"]
            return ("T", tuple(shape), tuple(stride), getattr(torch, dtype), torch.device(dev))
        return [back(b) for b in a] if isinstance(a, list) else a

    def operator(name):  # "aten.mm.default"
        namespace, op, overload = name.split(".")
        return getattr(getattr(getattr(torch.ops, namespace), op), overload)
    return [(operator(name), [back(a) for a in args], {k: back(v) for k, v in kwargs.items()})
            for name, args, kwargs in described]


class Floor:
    """The matrix products and convolutions of one step (:func:`record_arithmetic`'s ``calls``),
    replayed on random tensors of their shapes, strides and dtypes (one tensor per argument, as
    in the step)."""

    def __init__(self, calls, device):
        self.device = device

        def make(a):
            if isinstance(a, tuple) and a and a[0] == "T":
                _, shape, stride, dtype, dev = a
                return torch.empty_strided(shape, stride, dtype=dtype, device=dev).normal_()
            if isinstance(a, list):
                return [make(b) for b in a]
            return a
        self.replay = [(func, [make(a) for a in args], {k: make(v) for k, v in kwargs.items()})
                       for func, args, kwargs in calls]
        self.once()

    def once(self):
        for func, args, kwargs in self.replay:
            func(*args, **kwargs)

    def timed(self, repeats):
        """Seconds of one replay, the mean of ``repeats`` back to back."""
        _synchronize(self.device)
        start = time.perf_counter()
        for _ in range(repeats):
            self.once()
        _synchronize(self.device)
        return (time.perf_counter() - start) / repeats

    def block(self, rounds=7):
        """Seconds of one replay: the median of ``rounds`` rounds of five replays back to back."""
        return statistics.median(self.timed(5) for _ in range(rounds))


class FloorDuringEpochs:
    """The floor sampled while the epochs run: after every ``every``-th training step, one replay
    to bring the products' tensors back into the caches (the step has used them for its own),
    then two timed back to back. This machine's speed drifts, and changes within an epoch, so a
    floor measured in the second before or after an epoch can land in another regime than most
    of its steps; sampled across the epoch, it sees the same ones. The sampling's own seconds
    (:attr:`seconds`) are left out of the epoch's."""

    def __init__(self, floor, every=10):
        self.floor, self.every = floor, every
        self.steps, self.samples, self.seconds = 0, [], 0.0

    def new_epoch(self):
        self.samples, self.seconds = [], 0.0

    def after_step(self):
        self.steps += 1
        if self.steps % self.every:
            return
        start = time.perf_counter()
        self.floor.once()
        self.samples.append(self.floor.timed(2))
        self.seconds += time.perf_counter() - start

    def epoch_seconds(self, steps):
        """The floor of an epoch of ``steps`` steps: the mean sample times the steps."""
        return statistics.mean(self.samples) * steps


def record_step(step, inputs):
    """The FLOPs of one call of ``step(*inputs)``, counted from the shapes, and its products
    (:func:`record_arithmetic`)."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        step(*inputs)
    return counter.get_total_flops(), record_arithmetic(step, inputs)


# ---------------------------------------------------------------------------------------- driver

def child(impl, config, precision, epochs, steps, device, threads, flags, floor_file, torch_compiled):
    if threads:
        torch.set_num_threads(threads)
    if impl == "import":
        print(json.dumps({"pyro": __import__("pyro").__version__, "peak_rss_mib": peak_rss_mib()}))
        return
    if impl == "floor":
        print(json.dumps(record_floor(config, precision, device)))
        return
    with open(floor_file) as f:
        recorded = json.load(f)
    from m2_memory import memory_mib
    before = memory_mib()["VmRSS"]
    floor = Floor(calls_from_json(recorded["calls"]), device)
    floor_rss = memory_mib()["VmRSS"] - before  # its tensors stay; left out of the peak below
    sampler = FloorDuringEpochs(floor)
    if impl == "pyross":
        result = run_pyross(config, precision, epochs, steps, device, sampler, flags)
    else:
        result = run_torch(config, precision, epochs, steps, device, sampler, torch_compiled)
    result["peak_rss_mib"] = peak_rss_mib() - floor_rss
    result["floor_rss_mib"] = floor_rss
    epoch_steps = steps or recorded["epoch_steps"]
    result["floor_during_epoch_seconds"] = sampler.epoch_seconds(epoch_steps)  # the last epoch's samples
    step_seconds = floor.block()  # after the epochs, in one go, as before
    result.update({"floor_epoch_seconds": step_seconds * epoch_steps, "step_gflop": recorded["step_gflop"],
                   "gflop_per_s": recorded["step_gflop"] / step_seconds, "arithmetic_calls": len(floor.replay)})
    if device == "cuda":
        result["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    print(json.dumps(result))


def machine(device):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if device == "cuda":
        text += f", {torch.cuda.get_device_name()}"
    return text


def spread(values):
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def report(results, config, precision, flags=(), torch_compiled=False):
    """Print one configuration's table."""
    print(f"\n## {config}, {precision}{', pyross with ' + ' '.join(flags) if flags else ''}"
          f"{', the hand-written loss compiled' if torch_compiled else ''}\n")
    py, th = results["pyross"], results["torch"]
    # the first epoch of a process pays for warming up; with several epochs the later ones are used
    epoch = lambda r: r["epoch_seconds"][-1]  # noqa: E731
    pys, ths, floors = [epoch(r) for r in py], [epoch(r) for r in th], [r["floor_epoch_seconds"] for r in th]
    own_floors = [r["floor_epoch_seconds"] for r in py]  # each pyross process's own
    own = [p / f for p, f in zip(pys, own_floors)]
    during = {name: [r["floor_during_epoch_seconds"] for r in rows] for name, rows in (("pyross", py), ("torch", th))}
    own_during = {"pyross": [p / f for p, f in zip(pys, during["pyross"])],
                  "torch": [t / f for t, f in zip(ths, during["torch"])]}
    base = max(r["peak_rss_mib"] for r in results["import"])
    print("| | s/epoch, median [min-max] | each round | peak RSS MiB (above import) |")
    print("| --- | --- | --- | --- |")
    for name, values, rows in (("pyross", pys, py), ("torch", ths, th), ("floor", floors, None)):
        rss = "" if rows is None else f"{max(r['peak_rss_mib'] for r in rows):.0f} (+{max(r['peak_rss_mib'] for r in rows) - base:.0f})"
        print(f"| {name} | {spread(values)} | {', '.join(f'{v:.1f}' for v in values)} | {rss} |")
    print(f"| floor, in pyross's process | {spread(own_floors)} | {', '.join(f'{v:.1f}' for v in own_floors)} | |")
    for name in during:
        print(f"| floor, sampled during {name}'s epoch | {spread(during[name])} | "
              f"{', '.join(f'{v:.1f}' for v in during[name])} | |")
    print(f"| import torch, pyro | | | {base:.0f} |")
    med = {k: statistics.median(v) for k, v in (("pyross", pys), ("torch", ths), ("floor", floors))}
    print(f"\npyross / torch {med['pyross'] / med['torch']:.2f}; pyross / floor {med['pyross'] / med['floor']:.2f}; "
          f"torch / floor {med['torch'] / med['floor']:.2f}")
    print(f"pyross / the floor of its own process, each round: {', '.join(f'{r:.2f}' for r in own)}; "
          f"median {statistics.median(own):.2f}")
    for name, ratios in own_during.items():
        print(f"{name} / the floor sampled during its own epoch, each round: {', '.join(f'{r:.2f}' for r in ratios)}; "
              f"median {statistics.median(ratios):.2f}")
    drift_free = [p / t for p, t in zip(own_during["pyross"], own_during["torch"])]
    print(f"pyross / torch, each against its own sampled floor, each round: {', '.join(f'{r:.2f}' for r in drift_free)}; "
          f"median {statistics.median(drift_free):.2f}")
    print(f"(the peak RSS leaves out the floor's replayed tensors: {statistics.median(r['floor_rss_mib'] for r in py):.0f} MiB, "
          "measured when they were made)")
    f = th[0]
    print(f"floor: {f['step_gflop']:.2f} GFLOP a step ({f['arithmetic_calls']} products), "
          f"{statistics.median(r['gflop_per_s'] for r in th):.0f} GFLOP/s")
    phases = {}
    for r in py:
        for k, v in r["phases"].items():
            phases.setdefault(k, []).append(v)
    print("\npyross, seconds of an epoch by phase (median over rounds):")
    for k, v in phases.items():
        print(f"  {k:<52} {statistics.median(v):7.2f}")
    return {"pyross": pys, "torch": ths, "floor": floors, "import_rss": base, "ratios": {
        "pyross/torch": med["pyross"] / med["torch"], "pyross/floor": med["pyross"] / med["floor"],
        "torch/floor": med["torch"] / med["floor"], "pyross/own floor": statistics.median(own),
        "pyross/floor during its epoch": statistics.median(own_during["pyross"]),
        "torch/floor during its epoch": statistics.median(own_during["torch"]),
        "pyross/torch against their sampled floors": statistics.median(drift_free)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", nargs="+", default=["paper", "default"], choices=list(CONFIGS))
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each process (the last one is timed)")
    parser.add_argument("--steps", type=int, help="steps of an epoch (default: a pass over the unlabelled images)")
    parser.add_argument("--rounds", type=int, default=3, help="processes of each implementation")
    parser.add_argument("--threads", type=int, help="torch threads of each process (default: torch's choice)")
    parser.add_argument("--jit", action="store_true", help="run pyross with --jit (Pyro's compiled ELBOs)")
    parser.add_argument("--compile", action="store_true", help="run pyross with --compile (its loss compiled whole)")
    parser.add_argument("--compile-torch", action="store_true",
                        help="compile the hand-written M2's loss too (torch.compile, as --compile does pyross's)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--floor-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    flags = [f"--{flag}" for flag in ("jit", "compile") if getattr(args, flag)]
    if args.impl:
        return child(args.impl, args.config[0], args.precision, args.epochs, args.steps, args.device, args.threads,
                     flags, args.floor_file, args.compile_torch)
    print(f"M2 on MNIST, {LABELS} labels, batch {BATCH}; {machine(args.device)}")
    print(f"command: python benchmarks/m2_epoch.py {' '.join(sys.argv[1:])}")
    everything = {}
    with tempfile.TemporaryDirectory() as folder:
        for config in args.config:
            floor_file = os.path.join(folder, f"floor-{config}.json")

            def run(impl):
                command = [sys.executable, os.path.abspath(__file__), "--impl", impl, "--config", config,
                           "--precision", args.precision, "--device", args.device, "--epochs", str(args.epochs),
                           "--floor-file", floor_file]
                command += ["--steps", str(args.steps)] if args.steps else []
                command += ["--threads", str(args.threads)] if args.threads else []
                command += flags + (["--compile-torch"] if args.compile_torch else [])
                out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
                return out.strip().splitlines()[-1]
            with open(floor_file, "w") as f:  # the products of a hand-written step, which every process replays
                f.write(run("floor"))
            results = {impl: [] for impl in ("import", "pyross", "torch")}
            for _ in range(args.rounds):
                for impl in results:
                    results[impl].append(json.loads(run(impl)))
            summary = report(results, config, args.precision, flags, args.compile_torch)
            everything[config] = {"summary": summary, "runs": results}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
