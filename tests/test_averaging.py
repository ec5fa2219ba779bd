"""--ema: the moving average of the weights against a hand computation, and through the CLI."""
import pytest
import torch
from torch import nn

from pyross.averaging import WeightAverage

from test_cli import SMALL, invoke


def test_the_average_follows_the_formula_and_forgets_the_start():
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    average = WeightAverage(net, decay=0.9)
    expected = 0.0
    for t, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0], start=1):
        with torch.no_grad():
            net.weight.fill_(value)
        average.update()
        d = min(0.9, (1 + t) / (10 + t))
        expected = d * expected + (1 - d) * value
        assert average.state_dict()["average"]["weight"].item() == pytest.approx(expected)
    assert expected != pytest.approx(5.0)  # an average, not the last weights


def test_applied_swaps_the_average_in_and_the_weights_back():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    average = WeightAverage(net, decay=0.5)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net(torch.randn(4, 2))  # batch norm's running statistics move too
    average.update()
    own = {k: v.clone() for k, v in net.state_dict().items()}
    with average.applied():
        inside = {k: v.clone() for k, v in net.state_dict().items()}
    assert all(torch.equal(v, own[k]) for k, v in net.state_dict().items())
    w = 1 - min(0.5, 2 / 11)
    assert torch.allclose(inside["0.weight"], (1 - w) * start["0.weight"] + w * own["0.weight"])
    assert torch.allclose(inside["1.running_mean"], (1 - w) * start["1.running_mean"] + w * own["1.running_mean"])
    assert inside["1.num_batches_tracked"] == own["1.num_batches_tracked"]


def test_fit_with_ema_keeps_the_average_as_best_and_resumes_it(mnist_dir, tmp_path):
    out = tmp_path / "ema"
    result = invoke("fit", "m2", "--data-dir", mnist_dir, "--out", out, "--ema", "0.99", *SMALL)
    assert result.exit_code == 0, result.output
    last, best = torch.load(out / "last.pt", weights_only=False), torch.load(out / "best.pt", weights_only=False)
    averaged = last["average"]["average"]
    assert last["average"]["updates"] == 3  # 60 unlabelled images in batches of 20
    assert all(torch.equal(best["model"][k], averaged[k]) for k in averaged)  # epoch 1 is the best
    assert not all(torch.equal(last["model"][k], averaged[k]) for k in averaged)  # the weights go on
    metrics = (out / "metrics.jsonl").read_text()
    assert '"valid_accuracy_unaveraged"' in metrics
    result = invoke("fit", "m2", "--resume", out, "--epochs", 2, "--quiet")
    assert result.exit_code == 0, result.output
    assert torch.load(out / "last.pt", weights_only=False)["average"]["updates"] == 6
