"""Train M2 from Python, in a few lines, then classify and draw with the trained model.

    python examples/train_m2.py                      # 100 labels, 2 epochs: about 2 minutes on 2 CPU cores
    python examples/train_m2.py --smoke --data-dir D # tiny networks, a few steps (what the tests run)

The same as ``python cli.py fit m2 --epochs 2 --out runs/example-m2``: a config, a run
folder, training; then the trained model is an ordinary ``nn.Module``.
"""
import argparse

import torch

from pyross.evaluation import accuracy
from pyross.fitting import create_run, dataset_of, fit_run, new_config
from pyross.predict import load_trained
from pyross.runs import Run

SMOKE = {"hidden": [16], "decoder_hidden": [16], "classifier": "mlp", "classifier_hidden": [16], "z_dim": 2,
         "labels": 20, "unlabelled": 100, "batch_size": 20, "epochs": 1}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/example-m2")
    parser.add_argument("--data-dir", help="MNIST in torchvision's raw layout (default: as pyross finds it)")
    parser.add_argument("--smoke", action="store_true", help="tiny networks, one short epoch")
    args = parser.parse_args()

    # 1. a config: the options over M2's defaults (see `python cli.py models --defaults`)
    options = {"labels": 100, "epochs": 2, **(SMOKE if args.smoke else {})}
    config = new_config("m2", data_dir=args.data_dir, **options)
    # 2. a run folder with that config, then training into it (checkpoints, metrics.jsonl, summary.json)
    summary = fit_run(create_run(args.out, config, overwrite=True), config, progress=not args.smoke)
    print(f"test accuracy {summary['test_accuracy']:.4f} (best epoch {summary['best_epoch']})")

    # 3. the trained model back from its folder, and what it does
    net, class_names, _ = load_trained(Run.open(args.out), "cpu")
    test = dataset_of(config).test
    print(f"accuracy on the {len(test)} test images: {accuracy(net, test):.4f}")
    with torch.no_grad():
        y = net.classifier(test.x[:8]).argmax(-1)                     # q(y | x): classify
        z = net.encode(test.x[:8], y)                                 # q(z | x, y): the style
        seven = net.decode(torch.full((8,), 7), z)                    # p(x | y=7, z): each image as a 7
    print("predicted classes of the first 8 test images:", [class_names[i] for i in y])
    print("their styles rendered as 7s:", tuple(seven.shape))


if __name__ == "__main__":
    main()
