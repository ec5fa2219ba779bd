"""Seconds per epoch and peak memory of pyross's M2 against plain PyTorch, in one run.

The paper's M2 (Kingma et al. 2014): MLPs of 500 softplus units, z of 50, an MLP classifier,
batch 100, 100 labels and the other 49,900 MNIST training images unlabelled. One epoch is
one pass over the unlabelled images; each step takes one labelled and one unlabelled batch.

Each implementation trains in a fresh Python process of its own (so that its peak resident
memory is its own), on the same data, networks, batches and optimiser:

``pyross``
    pyross's training path: :class:`pyross.train.Trainer` stepping
    :class:`pyross.objectives.SemiSupervisedELBO` (Pyro ``TraceEnum_ELBO``) on
    :class:`pyross.models.M2`.
``pyross-jit``
    the same with the objective compiled (``fit --jit``: Pyro's ``JitTraceEnum_ELBO``, see
    :mod:`pyross.jit`).
``torch``
    the baseline: the same objective written by hand in plain PyTorch, the way one writes it
    first: the unlabelled images repeated once per class, every class's bound computed on the
    repeated batch, then weighted by q(y | x).
``torch-broadcast`` (with ``--all``)
    the hand-written objective again, with the images not repeated: the networks' first
    layers broadcast the one-hot classes against the batch (as pyross's do).

Run from the repository root::

    python benchmarks/m2_epoch.py                 # pyross vs torch, one epoch each
    python benchmarks/m2_epoch.py --all --rounds 3 --threads 1

It prints a table of seconds per epoch and peak memory and the ratios of pyross's times to the
hand-written ones.
"""
import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyross.data import SemiSupervisedData, binarize, get_dataset  # noqa: E402
from pyross.models import M2  # noqa: E402
from pyross.nets import one_hot  # noqa: E402
from pyross.objectives import SemiSupervisedELBO  # noqa: E402
from pyross.train import Trainer  # noqa: E402

PAPER_M2 = {"z_dim": 50, "hidden": [500], "activation": "softplus", "batch_norm": "none", "classifier": "mlp"}
ALPHA, LR, BATCH, LABELS, SEED = 0.1, 3e-4, 100, 100, 0
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_log_density(value, loc, scale):
    """log N(value | loc, scale), summed over the last dimension."""
    return (-((value - loc) / scale) ** 2 / 2 - scale.log() - HALF_LOG_2PI).sum(-1)


def negative_labelled_elbo(net, x, y_onehot):
    r"""Kingma's :math:`\mathcal{L}(x, y)` per image, one reparameterised sample of z."""
    loc, scale = net.encoder_z(x, y_onehot)
    z = loc + scale * torch.randn_like(loc)
    logits = net.decoder(y_onehot, z)
    log_px = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.ones_like(z))
    log_qz = gaussian_log_density(z, loc, scale)
    log_py = -math.log(net.num_classes)
    return -(log_px + log_py + log_pz - log_qz)


def torch_loss(net, x_l, y_l, x_u, classifier_weight, repeat):
    """The pyross step loss (labelled bound + unlabelled bound + weighted classifier loss),
    means over the batches, written with plain tensors."""
    k = net.num_classes
    labelled = negative_labelled_elbo(net, x_l, one_hot(y_l, k)).mean()
    logits = net.encoder_y(x_u)
    q = logits.softmax(-1)
    if repeat:  # every image once per class: (K * B, D)
        classes = torch.arange(k, device=x_u.device).repeat_interleave(len(x_u))
        bound = negative_labelled_elbo(net, x_u.repeat(k, 1), one_hot(classes, k)).reshape(k, -1).T
    else:  # the classes broadcast against the batch: (K, 1, K) with (B, D)
        classes = one_hot(torch.arange(k, device=x_u.device), k).unsqueeze(1)
        bound = negative_labelled_elbo(net, x_u, classes).T
    entropy = -(q * logits.log_softmax(-1)).sum(-1)
    unlabelled = ((q * bound).sum(-1) - entropy).mean()
    classifier = F.cross_entropy(net.encoder_y(x_l), y_l)
    return labelled + unlabelled + classifier_weight * classifier


def load(data_dir, device):
    dataset = get_dataset("mnist", data_dir)
    return SemiSupervisedData.from_dataset(dataset, LABELS, SEED, "all", device), dataset


def run_torch(data, net, device, repeat, steps):
    """One epoch (or ``steps`` steps) of the hand-written objective with torch.optim.Adam."""
    optimiser = torch.optim.Adam(net.parameters(), lr=LR)
    weight = ALPHA * data.n_train / len(data.labelled)
    generator = torch.Generator().manual_seed(SEED)
    unlabelled = torch.randperm(len(data.unlabelled), generator=generator).to(device).split(BATCH)
    n_l = len(data.labelled)
    for step, ui in enumerate(unlabelled[:steps]):
        li = torch.randperm(n_l, generator=generator).to(device)[:BATCH]
        loss = torch_loss(net, binarize(data.labelled.images(li)), data.labelled.y[li], binarize(data.unlabelled.images(ui)),
                          weight, repeat)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return loss.item()


def pyross_trainer(data, net, jit):
    """pyross's trainer of M2; its ``train_epoch`` runs ``steps_per_epoch`` steps (set it)."""
    objective = SemiSupervisedELBO(net, ALPHA, len(data.labelled), data.n_train, jit=jit)
    return Trainer(net, objective, data, run=None, batch_size=BATCH, lr=LR, seed=SEED, progress=False,
                   steps_per_epoch=1)


def child(impl, data_dir, device, steps, warmup, threads):
    """Time one implementation in this process; print its result as JSON."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    data, dataset = load(data_dir, device)
    net = M2(dataset.x_dim, dataset.num_classes, **PAPER_M2).to(device)
    epoch_steps = math.ceil(len(data.unlabelled) / BATCH)
    steps = steps or epoch_steps

    trainer = pyross_trainer(data, net, impl == "pyross-jit") if impl.startswith("pyross") else None

    def go(n):
        if trainer is None:
            return run_torch(data, net, device, impl == "torch", n)
        trainer.steps_per_epoch = n
        return trainer.train_epoch(1)[0]["loss"]

    go(warmup)  # first steps allocate and warm caches (and compile, for pyross-jit)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    loss = go(steps)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = {"impl": impl, "seconds_per_epoch": seconds * epoch_steps / steps, "steps": steps,
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "loss": loss}
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="MNIST folder (default: as pyross finds it)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, help="time this many steps and scale to an epoch (default: an epoch)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=1, help="time each implementation this many times")
    parser.add_argument("--all", action="store_true", help="also time the broadcasting hand-written objective")
    parser.add_argument("--threads", type=int, help="torch threads of each process (default: torch's choice)")
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.impl:
        return child(args.impl, args.data_dir, args.device, args.steps, args.warmup, args.threads)
    if args.threads:
        torch.set_num_threads(args.threads)
    ours, baselines = ["pyross", "pyross-jit"], ["torch"] + (["torch-broadcast"] if args.all else [])
    impls = ours + baselines
    print(f"M2 (500 softplus, z 50, MLP classifier), batch {BATCH}, {LABELS} labels, MNIST; {machine(args.device)}")
    results = {impl: [] for impl in impls}
    for _ in range(args.rounds):
        for impl in impls:
            command = [sys.executable, __file__, "--impl", impl, "--device", args.device, "--warmup", str(args.warmup)]
            command += ["--data-dir", args.data_dir] if args.data_dir else []
            command += ["--steps", str(args.steps)] if args.steps else []
            command += ["--threads", str(args.threads)] if args.threads else []
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results[impl].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'implementation':<16} {'s/epoch (each round)':<28} {'peak RSS MiB':>12}")
    median = {}
    for impl, rows in results.items():
        median[impl] = statistics.median(r["seconds_per_epoch"] for r in rows)
        rounds = " ".join(f"{r['seconds_per_epoch']:.1f}" for r in rows)
        extra = f"  peak CUDA {max(r['peak_cuda_mib'] for r in rows):.0f} MiB" if args.device == "cuda" else ""
        print(f"{impl:<16} {rounds:<28} {max(r['peak_rss_mib'] for r in rows):>12.0f}{extra}")
    for impl in ours:
        for baseline in baselines:
            print(f"ratio {impl} / {baseline}: {median[impl] / median[baseline]:.2f} (median round of each)")


if __name__ == "__main__":
    main()
