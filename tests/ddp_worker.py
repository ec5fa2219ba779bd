"""Run by tests/test_distributed.py, alone or under torchrun: train FF for a few steps on the
made-up data in DATA_DIR and save this process's parameters as OUT/<name>.pt."""
import sys

import pyro
import torch

from pyross import distributed
from pyross.data import SemiSupervisedData, get_dataset
from pyross.models import FF
from pyross.objectives import LabelledLikelihood
from pyross.train import Trainer


def main(data_dir, out):
    distributed.init("cpu")
    pyro.set_rng_seed(distributed.rank())  # different initial weights: the broadcast must make them equal
    dataset = get_dataset("mnist", data_dir)
    data = SemiSupervisedData.from_dataset(dataset, 40, seed=0)
    net = FF(dataset.x_dim, dataset.num_classes, classifier_hidden=[32])
    trainer = Trainer(net, LabelledLikelihood(net), data, run=None, batch_size=10, lr=1e-2, seed=0,
                      progress=False, steps_per_epoch=4)
    for epoch in (1, 2):
        trainer.train_epoch(epoch)
    name = f"rank{distributed.rank()}" if distributed.active() else "single"
    torch.save(net.state_dict(), f"{out}/{name}.pt")


if __name__ == "__main__":
    main(*sys.argv[1:])
