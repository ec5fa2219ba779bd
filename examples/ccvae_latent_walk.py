"""CCVAE's latent walk: train a CCVAE, then sweep each class's characteristic dimension.

    python examples/ccvae_latent_walk.py                       # FashionMNIST, all labels, 5 epochs
    python examples/ccvae_latent_walk.py --smoke --data-dir D  # MNIST-layout test data, tiny (what the tests run)

In CCVAE (Joy et al. 2021) each class owns one latent dimension z_c[i], and the label's
characteristics live there. Row i of the picture takes one test image's z = (z_c, z_s) and
moves z_c[i] alone from "not class i" to "class i": the image turns into class i while its
style z_s stays. The picture is OUT/latent-walk.png.
"""
import argparse
import os

import torch

from pyross.figures import latent_walk, walk_values
from pyross.fitting import create_run, dataset_of, fit_run, new_config
from pyross.plots import plot_image_grid
from pyross.predict import load_trained
from pyross.runs import Run

SMOKE = {"dataset": "mnist", "labels": 20, "unlabelled": 100, "batch_size": 20, "hidden": [16], "z_dim": 2, "k": 5,
         "epochs": 1}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/example-ccvae")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data-dir", help="the dataset in torchvision's raw layout")
    parser.add_argument("--smoke", action="store_true", help="tiny networks, one short epoch")
    args = parser.parse_args()
    options = SMOKE if args.smoke else {"dataset": "fashion-mnist", "labels": "all", "epochs": args.epochs}
    config = new_config("ccvae", data_dir=args.data_dir, **options)
    summary = fit_run(create_run(args.out, config, overwrite=True), config, progress=not args.smoke)
    print(f"test accuracy {summary['test_accuracy']:.4f}")

    net, names, shape = load_trained(Run.open(args.out))
    test = dataset_of(config).test
    x = test.images(torch.tensor([0]))[0]                   # one test image
    walk = latent_walk(net, x, steps=9)                     # (K, 9, C*H*W)
    values = walk_values(net, steps=9)                      # (K, 9): the value of z_c[i] in each image
    out = os.path.join(args.out, "latent-walk.png")
    plot_image_grid(walk.reshape(*walk.shape[:2], *shape), out, title="ccvae: one test image, z_c[i] swept",
                    rows=[f"z_c[{i}] {name}" for i, name in enumerate(names)], row_title="the dimension swept",
                    cell_text=[[f"{v:.1f}" for v in row] for row in values.tolist()])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
