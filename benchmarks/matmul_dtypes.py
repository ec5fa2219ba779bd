"""Matrix-multiply throughput in float32 and bfloat16 at the shapes of an M2 step, on this CPU.

Whether ``--precision bfloat16`` pays depends on the CPU: with AVX-512 BF16 or AMX a bfloat16
product is several times as fast as a float32 one, without them it is emulated and much
slower (docs/performance.md). This times ``a @ b`` for the products of one M2 step of the
paper's networks (100 labelled and 10 x 100 enumerated unlabelled images: classifier,
encoder and decoder, forward and the two products of the backward pass) in both dtypes, the
two interleaved in rounds, and prints the median GFLOP/s of each shape. Run from the
repository root::

    python benchmarks/matmul_dtypes.py --rounds 5
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from m2_epoch import machine  # noqa: E402

from pyross.precision import cpu_has_bfloat16  # noqa: E402

#: (rows, inner, columns) of M2's products with the paper's networks (500 units, z of 50, 784 pixels)
SHAPES = [(100, 784, 500), (1000, 500, 784), (1000, 500, 100), (1000, 60, 500), (784, 1000, 500), (500, 1000, 100)]


def seconds(m, k, n, dtype, repeats):
    """Seconds of one ``(m, k) @ (k, n)`` product in ``dtype``, the mean of ``repeats``."""
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    a @ b  # warm-up
    begin = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return (time.perf_counter() - begin) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each timing every shape in both dtypes")
    parser.add_argument("--repeats", type=int, default=10, help="products per timing")
    args = parser.parse_args()
    print(f"{machine('cpu')}; torch's CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"bfloat16 instructions: {'yes' if cpu_has_bfloat16() else 'no'}")
    print("| shape (m, k, n) | float32 GFLOP/s | bfloat16 GFLOP/s | bfloat16 / float32 time |")
    print("| --- | ---: | ---: | ---: |")
    for m, k, n in SHAPES:
        times = {torch.float32: [], torch.bfloat16: []}
        for _ in range(args.rounds):
            for dtype in times:
                times[dtype].append(seconds(m, k, n, dtype, args.repeats))
        f32, bf16 = (statistics.median(times[d]) for d in (torch.float32, torch.bfloat16))
        flop = 2 * m * k * n
        print(f"| ({m}, {k}, {n}) | {flop / f32 / 1e9:.0f} | {flop / bf16 / 1e9:.0f} | {bf16 / f32:.1f} |")


if __name__ == "__main__":
    main()
