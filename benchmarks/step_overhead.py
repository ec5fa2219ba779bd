"""Where pyross's M2 step and the hand-written one part: wall time against operator time.

One process builds the networks of a configuration once and times, on the same MNIST batch of
100 labelled and 100 unlabelled images, in blocks that alternate (this machine's speed drifts
from minute to minute, and alternating puts the drift on both sides):

``pyross``
    ``SVI.step`` of pyross's objective (:class:`~pyross.objectives.SemiSupervisedELBO`, Pyro's
    ``TraceEnum_ELBO`` for the unlabelled bound, or with ``--jit`` Pyro's compiled ELBOs as
    ``fit --jit`` runs them, the fused Adam of :mod:`pyross.optim`), without the validation
    checks, as the trainer runs all but the first step of an epoch;
``torch``
    the hand-written step of ``m2_epoch.py`` (the two bounds written by hand, PyTorch's fused
    Adam) on the same networks.

Then ``torch.profiler`` records one more block of each and sums the self time of torch's
operators (``aten::``), in all and by kind: what is left of that block's wall time is Python
(Pyro's tracing and bookkeeping, custom autograd functions, or the hand-written loop's). The
profiler slows every operator a little, so its block is slower than the timed ones: compare
the shares within a row, and the timed medians between rows. A step compiled with ``--compile`` on a
CPU calls its loops and products from C++ (:func:`pyross.compiled.inductor_options`), which the
profiler does not see as operators: its row counts only Adam and what runs outside the compiled
code. Run from the repository root::

    python benchmarks/step_overhead.py --config paper --blocks 6 --steps 20 [--jit] [--compile]

The weights move between blocks (each step trains), so the two implementations see slightly
different weights; their arithmetic per step does not depend on the values.
"""
import argparse
import os
import statistics
import sys
import time

import pyro
import torch
from torch.profiler import ProfilerActivity, profile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from m2_epoch import BATCH, CONFIGS, LABELS, machine, torch_setup, torch_steps  # noqa: E402

#: operator kinds reported, by the names torch's profiler gives them
KINDS = {"matrix products": ("aten::mm", "aten::addmm", "aten::bmm", "aten::convolution_backward",
                             "aten::mkldnn_convolution"),
         "Adam": ("aten::_fused_adam_",)}


def make_steps(config, jit=False, compile=False):
    """The step functions of ``config``, each taking no arguments (the same batch every time):
    pyross's (with Pyro's compiled ELBOs if ``jit``), the hand-written one, and pyross's with its
    loss compiled by ``torch.compile`` and the hand-written one compiled too if ``compile``."""
    from pyross.allocator import keep_freed_memory
    from pyross.objectives import make_svi
    from pyross.recipes import make_objective
    keep_freed_memory()
    net, data, dataset, run_config = torch_setup(config, "cpu")
    step, batch, _ = torch_steps(net, data, dataset, run_config, "float32", None, "cpu")
    x_l, y_l, x_u = batch(torch.arange(BATCH))

    def pyross_step(**how):
        objective = make_objective("m2", net, run_config["alpha"], len(data.labelled), data.n_train,
                                   labelled_bound=run_config["labelled_bound"], **how)
        svi = make_svi(objective, run_config["lr"])

        def one_step():
            with pyro.validation_enabled(False):
                return svi.step((x_l, y_l), x_u)
        return one_step

    steps = {"pyross --jit" if jit else "pyross": pyross_step(jit=jit), "torch": lambda: step(x_l, y_l, x_u)}
    if compile:
        steps["pyross --compile"] = pyross_step(compile=True)
        compiled_step = torch_steps(net, data, dataset, run_config, "float32", None, "cpu", compiled=True)[0]
        steps["torch, compiled"] = lambda: compiled_step(x_l, y_l, x_u)
    return steps


def block_ms(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1000


def profiled_ms(step, steps):
    """Milliseconds a step under the profiler: its wall time, and the self time of torch's
    operators in all and by :data:`KINDS`."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        wall = block_ms(step, steps)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events if e.key.startswith("aten::")) / 1000 / steps
    kinds = {kind: sum(e.self_cpu_time_total for e in events if e.key in names) / 1000 / steps
             for kind, names in KINDS.items()}
    return wall, total, kinds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", nargs="+", default=["paper"], choices=list(CONFIGS))
    parser.add_argument("--blocks", type=int, default=6, help="timed blocks of each implementation, alternating")
    parser.add_argument("--steps", type=int, default=20, help="steps of a block (and of the profile)")
    parser.add_argument("--jit", action="store_true", help="pyross with its compiled objective (fit --jit)")
    parser.add_argument("--compile", action="store_true",
                        help="also pyross with its loss compiled by torch.compile (fit --compile); its fused kernels "
                             "are not torch's operators, so the profile counts them in the last column")
    args = parser.parse_args()
    print(f"M2 step, MNIST, {LABELS} labels, batches of {BATCH}; {machine('cpu')}")
    print(f"command: python benchmarks/step_overhead.py {' '.join(sys.argv[1:])}")
    print("| configuration | implementation | wall ms/step, median [range] | under the profiler: wall | operators | "
          + " | ".join(KINDS) + " | the rest (Python) |")
    print("| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in KINDS) + " | --- |")
    for config in args.config:
        steps = make_steps(config, args.jit, args.compile)
        for step in steps.values():  # warm-up: the first steps allocate
            for _ in range(5):
                step()
        wall = {name: [] for name in steps}
        for _ in range(args.blocks):
            for name, step in steps.items():
                wall[name].append(block_ms(step, args.steps))
        for name, step in steps.items():
            profiled, operators, kinds = profiled_ms(step, args.steps)
            print(f"| {config} | {name} | {statistics.median(wall[name]):.1f} [{min(wall[name]):.1f}-"
                  f"{max(wall[name]):.1f}] | {profiled:.1f} | {operators:.1f} | "
                  + " | ".join(f"{kinds[kind]:.1f}" for kind in KINDS) + f" | {profiled - operators:.1f} |", flush=True)


if __name__ == "__main__":
    main()
