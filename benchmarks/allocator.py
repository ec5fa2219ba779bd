"""What keeping freed memory (pyross.allocator) does to an M2 step: page faults, time, peak memory.

Each configuration runs in fresh processes, alternately with glibc's own thresholds and with
:func:`pyross.allocator.keep_freed_memory`. A process takes 5 steps to warm up, then blocks of
``--steps`` ``SVI.step`` s on MNIST batches of 100 labelled and 100 unlabelled images, and
reports the median milliseconds and minor page faults of a step over its blocks, and its peak
resident memory (``ru_maxrss``). Run from the repository root::

    python benchmarks/allocator.py --config paper default --rounds 3
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def child(config, keep, blocks, steps, data_dir):
    import pyro
    from m2_epoch import peak_rss_mib
    from pyross.allocator import keep_freed_memory, page_faults
    from validation_checks import make_step
    if keep:
        keep_freed_memory()
    step = make_step(config, data_dir)
    times, faults = [], []
    with pyro.validation_enabled(False):
        for i in range(5):
            step(i)
        for b in range(blocks):
            before, start = page_faults(), time.perf_counter()
            for i in range(steps):
                step(b * steps + i)
            times.append((time.perf_counter() - start) / steps * 1000)
            faults.append((page_faults() - before) / steps)
    print(json.dumps({"ms": statistics.median(times), "faults": statistics.median(faults), "peak_mib": peak_rss_mib()}))


def main():
    from m2_epoch import machine
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", nargs="+", default=["paper", "default"], choices=["paper", "pi", "default"])
    parser.add_argument("--rounds", type=int, default=3, help="processes of each kind")
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--data-dir", help="MNIST in torchvision's raw layout (default: pyross's own lookup)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1] == "keep", args.blocks, args.steps, args.data_dir)
    print(f"M2 SVI.step, MNIST, 100 labels, batches of 100; {machine('cpu')}")
    print(f"command: python benchmarks/allocator.py {' '.join(sys.argv[1:])}")
    print("| configuration | glibc's thresholds: ms/step | faults/step | peak MiB | kept: ms/step | faults/step "
          "| peak MiB | kept / glibc (time) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for config in args.config:
        runs = {"glibc": [], "keep": []}
        for _ in range(args.rounds):
            for kind in runs:
                command = [sys.executable, os.path.abspath(__file__), "--child", config, kind,
                           "--blocks", str(args.blocks), "--steps", str(args.steps)]
                command += ["--data-dir", args.data_dir] if args.data_dir else []
                out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
                runs[kind].append(json.loads(out.strip().splitlines()[-1]))

        def cells(kind):
            ms = [r["ms"] for r in runs[kind]]
            return (f"{statistics.median(ms):.1f} [{min(ms):.1f}-{max(ms):.1f}] | "
                    f"{statistics.median(r['faults'] for r in runs[kind]):.0f} | "
                    f"{max(r['peak_mib'] for r in runs[kind]):.0f}")
        ratio = statistics.median(r["ms"] for r in runs["keep"]) / statistics.median(r["ms"] for r in runs["glibc"])
        print(f"| {config} | {cells('glibc')} | {cells('keep')} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
