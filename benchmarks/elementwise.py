"""torch's softplus, Bernoulli log-density and Bernoulli draws against pyross's, at the shapes of an M2 step.

The shapes are those of M2 with the paper's networks: the hidden layers of the ten enumerated
classes, ``(10, 100, 500)``, and the decoder's logits, ``(10, 100, 784)``, against a batch of 100
binary images. Each function of :mod:`pyross.fastmath` runs forward and, in a second row, forward
and backward; the last row draws the binary images of a step (100 labelled and 100 unlabelled,
:func:`pyross.data.binarize` against :func:`torch.bernoulli`). The
rounds interleave torch's and pyross's so that this machine's drift falls on both. Run from the
repository root::

    python benchmarks/elementwise.py --rounds 5
"""
import argparse
import os
import statistics
import sys
import time

import pyro.distributions as dist
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from m2_epoch import machine  # noqa: E402
from pyross import fastmath  # noqa: E402
from pyross.data import binarize  # noqa: E402


def microseconds(f, repeats):
    """Median microseconds of a call of ``f`` over ``repeats`` calls, after five to warm up."""
    for _ in range(5):
        f()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def cases(dtype):
    """``{row: (torch's call, pyross's call)}`` on random tensors of an M2 step's shapes."""
    torch.manual_seed(0)
    h = (torch.randn(10, 100, 500) * 3).to(dtype).requires_grad_()
    logits = (torch.randn(10, 100, 784) * 3).requires_grad_()
    x = torch.rand(100, 784).round()

    def backward(f):
        return lambda: f().sum().backward()

    def torch_bernoulli():
        return dist.Bernoulli(logits=logits, validate_args=False).log_prob(x)

    def our_bernoulli():
        return fastmath.Bernoulli(logits=logits, validate_args=False).log_prob(x)

    rows = {"softplus (10, 100, 500)": (lambda: F.softplus(h.detach()), lambda: fastmath.softplus(h.detach())),
            "softplus, forward and backward": (backward(lambda: F.softplus(h)), backward(lambda: fastmath.softplus(h)))}
    if dtype == torch.float32:  # the models' log-densities are float32 under every precision
        rows["Bernoulli log-density (10, 100, 784)"] = (lambda: torch_bernoulli().detach(),
                                                         lambda: our_bernoulli().detach())
        rows["Bernoulli, forward and backward"] = (backward(torch_bernoulli), backward(our_bernoulli))
        grey = torch.rand(200, 784) * (torch.rand(200, 784) < 0.2)  # about 80 % of pixels 0, as in MNIST
        rows["binarisation (200, 784), 80 % zeros"] = (lambda: torch.bernoulli(grey), lambda: binarize(grey))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20, help="calls timed in a round")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = parser.parse_args()
    print(f"{machine('cpu')}; {args.dtype}")
    print(f"command: python benchmarks/elementwise.py {' '.join(sys.argv[1:])}")
    print("| | torch (µs), median [range] | pyross (µs) | pyross / torch |")
    print("| --- | --- | --- | --- |")
    for name, (theirs, ours) in cases(getattr(torch, args.dtype)).items():
        times = {"torch": [], "pyross": []}
        for _ in range(args.rounds):
            times["torch"].append(microseconds(theirs, args.repeats))
            times["pyross"].append(microseconds(ours, args.repeats))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"| {name} | {med['torch']:.0f} [{min(times['torch']):.0f}-{max(times['torch']):.0f}] | "
              f"{med['pyross']:.0f} [{min(times['pyross']):.0f}-{max(times['pyross']):.0f}] | "
              f"{med['pyross'] / med['torch']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
