"""What Pyro's and torch's validation checks cost an M2 training step.

The trainer validates the first step of each epoch and runs the others without the checks
(``Trainer._checks``). This times ``SVI.step`` on MNIST batches of 100 labelled and 100
unlabelled images, with the checks and without, in blocks of ``--steps`` steps that alternate
within one process (this machine's speed drifts from minute to minute, and alternating puts
the drift on both sides). It reports the median milliseconds of a step over the blocks, their
range, and the ratio. Run from the repository root::

    python benchmarks/validation_checks.py --config paper pi default --blocks 8

Configurations: ``paper`` (Kingma et al.'s networks, as in ``m2_epoch.py``), ``pi`` and
``default`` (``fit m2 --preset pi`` and ``fit m2``'s defaults; the defaults' shifts and
averaging of the weights are outside ``SVI.step`` and not timed).
"""
import argparse
import os
import statistics
import sys
import time

import pyro
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from m2_epoch import BATCH, LABELS, SEED, machine  # noqa: E402

#: ``new_config("m2", preset, **options)`` of each configuration
CONFIGS = {
    "paper": (None, dict(classifier="mlp", augment=0, activation="softplus", batch_norm="none", z_dim=50,
                         hidden=[500], classifier_hidden=[500], decoder_hidden=[500], lr=3e-4, alpha=0.1)),
    "pi": ("pi", {}),
    "default": (None, {}),
}


def make_step(config_name, data_dir):
    """One SVI step of M2 as the trainer takes it, on batch ``i`` of the unlabelled images."""
    from pyross.data import binarize
    from pyross.fitting import build_model, dataset_of, load_data, new_config
    from pyross.objectives import make_svi
    from pyross.recipes import make_objective
    preset, options = CONFIGS[config_name]
    config = new_config("m2", preset, data_dir=data_dir, labels=LABELS, seed=SEED, **options)
    dataset = dataset_of(config)
    data = load_data(config, dataset, "cpu")
    pyro.set_rng_seed(SEED)
    net = build_model(config, dataset)
    objective = make_objective("m2", net, config["alpha"], len(data.labelled), data.n_train,
                               labelled_bound=config.get("labelled_bound"))
    svi = make_svi(objective, config["lr"])
    labelled = binarize(data.labelled.images(torch.arange(BATCH))), data.labelled.y[:BATCH]
    n_batches = len(data.unlabelled) // BATCH

    def step(i):
        index = torch.arange(BATCH) + (i % n_batches) * BATCH
        svi.step(labelled, binarize(data.unlabelled.images(index)))
    return step


def block(step, steps, checks, start):
    """Milliseconds per step over ``steps`` steps, with or without the checks."""
    with pyro.validation_enabled(checks):
        begin = time.perf_counter()
        for i in range(start, start + steps):
            step(i)
        return (time.perf_counter() - begin) / steps * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", nargs="+", default=["paper", "pi", "default"], choices=list(CONFIGS))
    parser.add_argument("--blocks", type=int, default=8, help="blocks of each kind, alternating")
    parser.add_argument("--steps", type=int, default=20, help="steps of a block")
    parser.add_argument("--data-dir", help="MNIST in torchvision's raw layout (default: pyross's own lookup)")
    args = parser.parse_args()
    print(f"M2 SVI.step, MNIST, {LABELS} labels, batches of {BATCH}; {machine('cpu')}")
    print(f"command: python benchmarks/validation_checks.py {' '.join(sys.argv[1:])}")
    print("| configuration | with the checks (ms/step) | without (ms/step) | without / with |")
    print("| --- | --- | --- | --- |")
    for name in args.config:
        step = make_step(name, args.data_dir)
        for i in range(5):  # warm-up: the first steps allocate
            step(i)
        times = {True: [], False: []}
        for b in range(args.blocks):
            for checks in (True, False):
                times[checks].append(block(step, args.steps, checks, (2 * b + checks) * args.steps))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"| {name} | {med[True]:.1f} [{min(times[True]):.1f}-{max(times[True]):.1f}] | "
              f"{med[False]:.1f} [{min(times[False]):.1f}-{max(times[False]):.1f}] | {med[False] / med[True]:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
