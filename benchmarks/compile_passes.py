"""What each of ``--compile``'s two choices does to a step of the paper's networks: the bias split from
the product before inductor (:func:`pyross.compiled.split_bias`), and the C++ wrapper
(``cpp_wrapper`` in :func:`pyross.compiled.inductor_options`).

One process compiles pyross's M2 step four ways (neither, each alone, both: the first two with the
functions of :mod:`pyross.compiled` swapped for the old behaviour while the step is recorded and
compiled) and times them on the same batch of 100 labelled and 100 unlabelled MNIST images, in blocks
of ``--steps`` steps that alternate (this machine's speed drifts from minute to minute). After each
block it replays the step's matrix products on random tensors (the floor of ``m2_epoch.py``), so that
each block is also reported as a ratio to a floor measured seconds from it. Run from the repository
root::

    python benchmarks/compile_passes.py --blocks 30 --steps 20

It prints, for each way, the median and range of the milliseconds a step, of its ratio to the floor,
and of its ratio to the first way's block beside it.
"""
import argparse
import statistics
import sys
from unittest import mock

import step_overhead
from m2_epoch import Floor, calls_from_json, machine, record_floor

import pyross.compiled as compiled

WAYS = {"neither": (False, False), "split bias": (True, False), "C++ wrapper": (False, True), "both": (True, True)}


def compiled_step(split, cpp_wrapper):
    """pyross's compiled step of the paper's networks, compiled (by its first call) with or without each choice."""
    options = compiled.inductor_options

    def chosen(inputs):
        return {**options(inputs), "cpp_wrapper": cpp_wrapper}
    with mock.patch.object(compiled, "inductor_options", chosen), \
            mock.patch.object(compiled, "split_bias", compiled.split_bias if split else lambda graph: None):
        step = step_overhead.make_steps("paper", compile=True)["pyross --compile"]
        step()
    return step


def floor_ms():
    """The GFLOP of the step, and a function timing its floor in ms: its matrix products (those of the
    hand-written step, as ``m2_epoch.py`` records them for its processes), replayed."""
    recorded = record_floor("paper", "float32", "cpu")
    floor = Floor(calls_from_json(recorded["calls"]), "cpu")
    return recorded["step_gflop"], lambda: floor.timed(10) * 1000


def summary(values):
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    steps = {name: compiled_step(*how) for name, how in WAYS.items()}
    gflop, floor = floor_ms()
    for step in steps.values():  # warm
        for _ in range(5):
            step()
    times, floors = {name: [] for name in steps}, {name: [] for name in steps}
    for _ in range(args.blocks):
        for name, step in steps.items():
            times[name].append(step_overhead.block_ms(step, args.steps))
            floors[name].append(floor())
    print(f"M2 step of the paper's networks, compiled (--compile); {machine('cpu')}")
    print(f"command: python benchmarks/compile_passes.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(f"floor: {gflop:.2f} GFLOP a step, replayed after every block\n")
    print("| way | ms a step, median [range] | / the floor after the block | / 'neither' in the same round |")
    print("| --- | --- | --- | --- |")
    for name in steps:
        ratio = [t / f for t, f in zip(times[name], floors[name])]
        relative = [t / n for t, n in zip(times[name], times["neither"])]
        print(f"| {name} | {summary(times[name])} | {summary(ratio)} | {summary(relative)} |")


if __name__ == "__main__":
    main()
