"""The compiled objective (``jit=True``) computes the same bounds and gradients as the eager one.

Both draw the noise of z ~ q(z | x, y) from the same seed, so they see the same noise. (Pyro keys
a compiled ELBO on the identity of the model and guide functions, so the calls pass the
objective's own, as ``SVI`` does.)
"""
import pyro
import pytest
import torch
from click.testing import CliRunner

from pyross.cli import main
from pyross.models import M2
from pyross.objectives import SemiSupervisedELBO
from pyross.precision import Precision

K, D = 3, 6


@pytest.fixture(params=[{}, {"likelihood": "gaussian", "batch_norm": "all"}],
                ids=["M2", "M2 as in M1+M2, batch-normalised"])
def objectives(request):
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = M2(x_dim=D, num_classes=K, z_dim=2, hidden=(5,), **request.param)
    eager = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000)
    compiled = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000, jit=True)
    return model, eager, compiled


def bounds_and_grads(model, objective, x, y, seed):
    """The labelled and the unlabelled bound with the noise of ``seed``, and their gradients."""
    model.zero_grad()
    torch.manual_seed(seed)
    labelled = objective.labelled_bound(objective.model, objective.guide, x, y)
    unlabelled = objective.unlabelled_bound(objective.model, objective.guide, x)
    (labelled + unlabelled).backward()
    return torch.stack([labelled, unlabelled]).detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("sizes", [(6, 6), (6, 4, 6)], ids=["one shape", "a second shape, then the first again"])
def test_compiled_bounds_equal_the_eager_ones(objectives, sizes):
    model, eager, compiled = objectives
    for step, n in enumerate(sizes):
        x = torch.bernoulli(torch.full((n, D), 0.5))
        y = torch.arange(n) % K
        bounds_and_grads(model, compiled, x, y, seed=99)  # the first call of a shape traces it
        expected, expected_grads = bounds_and_grads(model, eager, x, y, seed=step)
        got, grads = bounds_and_grads(model, compiled, x, y, seed=step)
        assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5), (n, got, expected)
        for g, e in zip(grads, expected_grads):
            assert torch.allclose(g, e, rtol=1e-4, atol=1e-5)  # some are 0 up to rounding (bias before batch norm)
    assert len(compiled.unlabelled_elbo.elbos) == len(set(sizes))  # one compiled ELBO per batch size


def test_compiled_bounds_under_bfloat16_follow_the_weights(objectives):
    """Under autocast the replayed trace casts the weights of each step, not those of the first:
    after the weights change, compiled and eager bfloat16 still agree (a trace that kept the
    first step's cast weights as constants would not)."""
    model, eager, compiled = objectives
    precision = Precision("bfloat16", "cpu")
    precision.attach(model)  # the networks return float32 to the model code, as in training
    x = torch.bernoulli(torch.full((6, D), 0.5))
    y = torch.arange(6) % K
    with precision():
        bounds_and_grads(model, compiled, x, y, seed=99)  # traces
    for step in range(2):
        with precision():
            expected, expected_grads = bounds_and_grads(model, eager, x, y, seed=step)
            got, grads = bounds_and_grads(model, compiled, x, y, seed=step)
        assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5), (step, got, expected)
        for g, e in zip(grads, expected_grads):  # eager sums a shared cast weight's gradients in bfloat16 first
            assert torch.allclose(g, e, rtol=0, atol=1e-2 * e.abs().max().item())
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.3 * torch.randn_like(p))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_fit_jit_writes_the_run_folder(mnist_dir, tmp_path, precision):
    out = tmp_path / "jit"
    args = ["fit", "m2", "--jit", "--data-dir", mnist_dir, "--out", out, "--labels", "20", "--unlabelled", "50",
            "--batch-size", "20", "--hidden", "8", "--classifier", "mlp", "--classifier-hidden", "8",
            "--decoder-hidden", "8", "--z-dim", "2", "--epochs", "1", "--device", "cpu", "--precision", precision,
            "--quiet"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert (out / "best.pt").exists()
    config = (out / "config.json").read_text()
    assert '"jit": true' in config and f'"precision": "{precision}"' in config


def autograd_nodes(tensor):
    """The names of the autograd nodes that ``tensor`` depends on."""
    seen, stack = set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack += [child for child, _ in node.next_functions]
    return {type(node).__name__ for node in seen}


def test_replay_on_a_cpu_is_differentiated_by_autograd():
    """On a CPU the replayed operations are recorded by autograd as in an eager step (a ReLU's
    gradient is ``ReluBackward0``), not handed to TorchScript's optimising executor, which after
    its profiling runs would differentiate the graph by its own rules (a ``DifferentiableGraph``
    node, a ReLU's gradient as ``gt``, a cast and a ``mul``)."""
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = M2(x_dim=D, num_classes=K, z_dim=2, hidden=(5,), activation="relu")
    compiled = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000, jit=True)
    x = torch.bernoulli(torch.full((6, D), 0.5))
    for _ in range(4):  # the executor optimises a graph after its first runs
        nodes = autograd_nodes(compiled.unlabelled_bound(compiled.model, compiled.guide, x))
    # Python sees the executor's DifferentiableGraph node as a ``CppFunction``
    assert "ReluBackward0" in nodes and "CppFunction" not in nodes, nodes
