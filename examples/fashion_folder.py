"""Make an image folder from FashionMNIST, the way a user's own data would look, and score
``pyross predict`` on images the model never saw.

    python examples/fashion_folder.py build --data-dir ../shared/data --out /tmp/fashion
    python cli.py fit m2 --dataset folder:/tmp/fashion/train --out runs/fashion-folder
    python cli.py predict runs/fashion-folder /tmp/fashion/held-out --out predictions.csv
    python examples/fashion_folder.py score predictions.csv

``build`` writes PNG files drawn (with ``--seed``) from the 10,000 FashionMNIST test images:
``train/labelled/<class>/`` (``--labelled`` per class), ``train/unlabelled/`` (``--unlabelled``)
and ``held-out/<class>/`` (``--held-out`` in all), disjoint. ``score`` reads a predictions CSV
and compares each prediction with the class folder the image sits in.
"""
import argparse
import csv
import os
import sys

import torch
from PIL import Image

from pyross.data import get_dataset


def folder_name(class_name):
    """A class name usable as a folder name ("T-shirt/top" → "T-shirt_top")."""
    return class_name.replace("/", "_")


def save(x, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray((x.reshape(28, 28) * 255).round().to(torch.uint8).numpy()).save(path)


def build(args):
    test = get_dataset("fashion-mnist", args.data_dir).test
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(args.seed))
    names = [folder_name(n) for n in get_dataset("fashion-mnist", args.data_dir).class_names]
    taken, counts = set(), [0] * len(names)
    for i in order.tolist():
        c = int(test.y[i])
        if counts[c] < args.labelled:
            save(test.x[i], os.path.join(args.out, "train", "labelled", names[c], f"{i}.png"))
            counts[c] += 1
            taken.add(i)
    rest = [i for i in order.tolist() if i not in taken]
    for i in rest[:args.unlabelled]:
        save(test.x[i], os.path.join(args.out, "train", "unlabelled", f"{i}.png"))
    for i in rest[args.unlabelled:args.unlabelled + args.held_out]:
        save(test.x[i], os.path.join(args.out, "held-out", names[int(test.y[i])], f"{i}.png"))
    print(f"wrote {sum(counts)} labelled, {min(args.unlabelled, len(rest))} unlabelled and "
          f"{len(rest[args.unlabelled:args.unlabelled + args.held_out])} held-out images under {args.out}")


def score(args):
    with open(args.csv) as f:
        rows = [r for r in csv.DictReader(f) if not r["error"]]
    right = sum(r["prediction"] == os.path.basename(os.path.dirname(r["path"])) for r in rows)
    print(f"{right} of {len(rows)} predictions right: accuracy {right / len(rows):.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="write the image folders")
    b.add_argument("--data-dir", help="folder with FashionMNIST/raw (torchvision's layout)")
    b.add_argument("--out", required=True)
    b.add_argument("--labelled", type=int, default=20, help="labelled images per class")
    b.add_argument("--unlabelled", type=int, default=5000)
    b.add_argument("--held-out", type=int, default=2000)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--smoke", action="store_true", help="a tiny folder: 2 labelled per class, 20 unlabelled, 20 held out")
    s = commands.add_parser("score", help="accuracy of a predictions CSV against the class folders")
    s.add_argument("csv")
    args = parser.parse_args(argv)
    if getattr(args, "smoke", False):
        args.labelled, args.unlabelled, args.held_out = 2, 20, 20
    {"build": build, "score": score}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
