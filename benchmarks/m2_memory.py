"""Where a ``fit m2`` process's memory goes: resident memory and its peak at each stage.

Runs ``pyross fit m2`` through its command line in this process for one epoch and prints
``VmRSS`` and its peak ``VmHWM`` (from ``/proc/self/status``, Linux only) after importing torch
and pyro, before chosen training steps, and around each evaluation of a held-out split. This is
the probe behind docs/performance.md, "Memory". Run from the repository root::

    python benchmarks/m2_memory.py --steps 60                     # fit m2's defaults, 60 steps
    python benchmarks/m2_memory.py --steps 60 --eval-batch 1000   # evaluation 1,000 images a pass
    python benchmarks/m2_memory.py -- --classifier mlp            # options after -- go to fit m2
"""
import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

#: the training steps before which the memory is printed
MARKED_STEPS = (1, 2, 5, 20, 50, 100, 200, 400)


def memory_mib():
    """``{"VmRSS": MiB, "VmHWM": MiB}`` of this process."""
    with open("/proc/self/status") as f:
        return {k: int(v.split()[0]) // 1024 for k, v in (line.split(":", 1) for line in f)
                if k in ("VmRSS", "VmHWM")}


def mark(stage):
    m = memory_mib()
    print(f"{stage:<40} resident {m['VmRSS']:5d} MiB  peak {m['VmHWM']:5d} MiB", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, help="steps of the epoch (default: a pass over the unlabelled images)")
    parser.add_argument("--eval-batch", type=int, help="images per evaluation pass (default: pyross's)")
    parser.add_argument("fit_options", nargs="*", help="further options of fit m2, after --")
    args = parser.parse_args()

    import pyro  # imports torch
    mark("import torch, pyro")
    from pyross import evaluation, train
    from pyross.cli import main as cli

    step, evaluate = pyro.infer.SVI.step, train.Trainer.evaluate
    count = [0]

    def marked_step(self, *a, **k):
        count[0] += 1
        if count[0] in MARKED_STEPS:
            mark(f"before step {count[0]}")
        return step(self, *a, **k)

    def marked_evaluate(self, split):
        result = evaluate(self, split)
        mark(f"after evaluating {len(split)} images")
        return result

    pyro.infer.SVI.step, train.Trainer.evaluate = marked_step, marked_evaluate
    if args.eval_batch:
        train.accuracy = lambda model, split: evaluation.accuracy(model, split, batch_size=args.eval_batch)
    with tempfile.TemporaryDirectory() as out:
        options = ["fit", "m2", "--epochs", "1", "--seed", "0", "--out", os.path.join(out, "run"), "--quiet",
                   *args.fit_options]
        options += ["--steps-per-epoch", str(args.steps)] if args.steps else []
        try:
            cli(options)
        except SystemExit as e:
            if e.code:
                raise
    mark("end")


if __name__ == "__main__":
    main()
