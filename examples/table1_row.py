"""Reproduce the paper's Table 1 row for 100 labels: M2's test error over several seeds.

    python examples/table1_row.py --seeds 0 1 2          # 3 runs of 6 epochs: about 8 minutes each on 2 CPU cores
    python examples/table1_row.py --smoke --data-dir D   # tiny runs (what the tests run)

Each seed is a run folder under ``--out``; finished runs are skipped and stopped ones resumed,
so the script can be stopped and run again. It prints the markdown table that
``python cli.py experiment labels --labels 100`` writes, with Kingma et al.'s error beside ours.
"""
import argparse

from pyross.experiments import error_table, run_grid


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=["m2"], help="any of m2 m1m2 m1 ff")
    parser.add_argument("--out", default="runs/example-table1")
    parser.add_argument("--data-dir", help="MNIST in torchvision's raw layout (default: as pyross finds it)")
    parser.add_argument("--smoke", action="store_true", help="tiny networks, one epoch, few images")
    args = parser.parse_args()
    labels = 20 if args.smoke else 100  # the made-up test data have 200 training images
    cells = [(model, labels, "all", seed) for model in args.models for seed in args.seeds]
    results = run_grid(args.out, cells, {"data_dir": args.data_dir}, smoke=args.smoke, progress=not args.smoke)
    print(error_table(results, "labels", paper=not args.smoke))


if __name__ == "__main__":
    main()
