"""Style transfer with a trained M2 (seeds 000 and 001): each test image's style, every digit.

    python examples/style_transfer.py RUN_DIR            # a finished `fit m2` run folder
    python examples/style_transfer.py --smoke --data-dir D   # trains a tiny run first (what the tests run)

Row i starts with a real test image x_i; its class is read by q(y | x_i), its style is the
mean of q(z | x_i, y), and the row renders p(x | y = k, z) for every class k. The picture is
RUN_DIR/style-transfer-example.png.
"""
import argparse
import os

import torch

from pyross.figures import style_transfer
from pyross.fitting import create_run, dataset_of, fit_run, new_config
from pyross.plots import plot_image_grid
from pyross.predict import load_trained
from pyross.runs import Run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", nargs="?", help="a finished M2 run folder")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--data-dir", help="with --smoke: MNIST in torchvision's raw layout")
    parser.add_argument("--smoke", action="store_true", help="train a tiny M2 run first, in runs/example-style")
    args = parser.parse_args()
    run_dir = args.run_dir
    if args.smoke:
        run_dir = run_dir or os.path.join("runs", "example-style")
        config = new_config("m2", data_dir=args.data_dir, labels=20, unlabelled=100, batch_size=20, epochs=1,
                            hidden=[16], decoder_hidden=[16], classifier="mlp", classifier_hidden=[16], z_dim=2)
        fit_run(create_run(run_dir, config, overwrite=True), config, progress=False)
    if run_dir is None:
        parser.error("give a run folder, or --smoke")
    run = Run.open(run_dir)
    net, names, shape = load_trained(run, "cpu")
    test = dataset_of(run.config, args.data_dir).test
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:args.rows]
    grid = style_transfer(net, test.images(pick))            # (rows, 1 + K, C*H*W)
    out = os.path.join(run_dir, "style-transfer-example.png")
    plot_image_grid(grid.reshape(*grid.shape[:2], *shape), out, title="every class in the style of a test image",
                    rows=[f"test image {i + 1}" for i in range(len(grid))], cols=["image", *names],
                    col_title="class y, in the image's style")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
