"""Accuracy read a batch at a time against the same accuracy computed at once by hand."""
import torch
from torch import nn

from pyross.data.dataset import Split
from pyross.evaluation import BATCH, accuracy, predict


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.classifier = nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_accuracy_in_batches_matches_one_pass_by_hand():
    model = Classifier()
    model.classifier[1].running_mean.normal_()  # eval-mode batch norm must be used, not batch statistics
    pixels = torch.randint(0, 256, (23, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    split = Split(pixels, torch.randint(0, 3, (23,), generator=torch.Generator().manual_seed(2)), levels=255)
    model.eval()
    with torch.no_grad():
        by_hand = (model.classifier(pixels.float() / 255).argmax(-1) == split.y).sum().item() / 23
    model.train()
    assert 0 < by_hand < 1  # neither all right nor all wrong, so a wrong batching could show
    for batch_size in (1, 7, 23, 100, BATCH):
        assert accuracy(model, split, batch_size=batch_size) == by_hand
    assert model.training  # the model is given back in the mode it came in
    assert torch.equal(predict(model, split.x, batch_size=5), predict(model, split.x, batch_size=23))


def test_batches_of_a_view_read_its_own_rows():
    pixels = torch.arange(10 * 3, dtype=torch.uint8).reshape(10, 3)
    split = Split(pixels, torch.arange(10), levels=255).view(torch.tensor([7, 2, 5, 0, 9]))
    pairs = list(split.batches(2))
    assert [len(y) for _, y in pairs] == [2, 2, 1]
    assert torch.equal(torch.cat([y for _, y in pairs]), torch.tensor([7, 2, 5, 0, 9]))
    assert torch.equal(torch.cat([x for x, _ in pairs]), pixels[[7, 2, 5, 0, 9]].float() / 255)
