"""Validation accuracy after each epoch of M2 in float32 and in bfloat16, for several seeds.

Each (seed, precision) pair is one ``pyross fit m2`` run of the paper's networks (the options
of ``m2_epoch.py``'s ``paper`` configuration), one after the other; the seed is the draw of the
labelled images and of everything random. The curves go into one PNG, float32 solid and
bfloat16 dashed, one colour per seed, and the numbers into a JSON file. Run from the
repository root::

    python benchmarks/precision_curves.py --seeds 0 1 2 --epochs 3 --out docs/runs/i21-precision
    python benchmarks/precision_curves.py --config default --jit --out docs/runs/i21-precision-jit  # bfloat16 with --jit
    python benchmarks/precision_curves.py --config default --compile --out runs/precision-compile  # with --compile
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from m2_epoch import CONFIGS  # noqa: E402


def plot(curves, seeds, epochs, config, path, option=None):
    """The curves of ``curves`` (as in ``curves.json``) in one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, seed in enumerate(seeds):
        for precision, style in (("float32", "-"), ("bfloat16", "--")):
            values = curves[f"seed {seed}, {precision}"]["valid_accuracy"]
            ax.plot(range(1, len(values) + 1), [100 * v for v in values], style, marker="o", color=f"C{i}",
                    label=f"seed {seed}, {precision}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_xticks(range(1, epochs + 1))
    side = f"bfloat16 with {option}" if option else "bfloat16"
    ax.set_title(f"M2, {config} networks, 100 labels: float32 solid, {side} dashed", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--config", default="paper", choices=list(CONFIGS))
    parser.add_argument("--out", required=True, help="folder of the runs' small files, the JSON and the PNG")
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--jit", action="store_const", dest="option", const="--jit",
                      help="run the bfloat16 side with --jit (Pyro's compiled ELBOs)")
    side.add_argument("--compile", action="store_const", dest="option", const="--compile",
                      help="run the bfloat16 side with --compile (its loss compiled whole)")
    parser.add_argument("--replot", action="store_true", help="only redraw the PNG from the folder's curves.json")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.replot:
        with open(os.path.join(args.out, "curves.json")) as f:
            return plot(json.load(f)["curves"], args.seeds, args.epochs, args.config,
                        os.path.join(args.out, "precision-curves.png"), args.option)
    curves = {}
    for seed in args.seeds:
        for precision in ("float32", "bfloat16"):
            run = os.path.join(args.out, f"seed{seed}-{precision}")
            start = time.perf_counter()
            subprocess.run([sys.executable, os.path.join(ROOT, "cli.py"), "fit", "m2", *CONFIGS[args.config],
                            "--epochs", str(args.epochs), "--seed", str(seed), "--precision", precision,
                            "--device", "cpu", "--out", run, "--overwrite", "--quiet",
                            *([args.option] if args.option and precision == "bfloat16" else [])], check=True, cwd=ROOT)
            with open(os.path.join(run, "metrics.jsonl")) as f:
                metrics = [json.loads(line) for line in f]
            curves[f"seed {seed}, {precision}"] = {
                "valid_accuracy": [m["valid_accuracy"] for m in metrics],
                "train_seconds": [m["seconds"] for m in metrics], "wall_seconds": time.perf_counter() - start}
            for checkpoint in ("best.pt", "last.pt"):  # the small files only
                os.remove(os.path.join(run, checkpoint))
            print(seed, precision, curves[f"seed {seed}, {precision}"], flush=True)
    with open(os.path.join(args.out, "curves.json"), "w") as f:
        json.dump({"command": "python benchmarks/precision_curves.py " + " ".join(sys.argv[1:]), "curves": curves},
                  f, indent=1)
    plot(curves, args.seeds, args.epochs, args.config, os.path.join(args.out, "precision-curves.png"), args.option)
    print("wrote", os.path.join(args.out, "precision-curves.png"))


if __name__ == "__main__":
    main()
