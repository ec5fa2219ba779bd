"""The loss compiled whole (``compile=True``, :mod:`pyross.compiled`) is the eager loss: the same
value, terms and gradients, and the same updates of batch norm's statistics.

The compiled code draws its noise with torch's own generator, in the order the recording made the
draws, and recording draws nothing, so that both see the same noise from the same seed, from the first
step on. Compiling needs a C++ compiler; the tests that compile are skipped without one.
"""
import subprocess
import sys

import pyro
import pytest
import torch
from click.testing import CliRunner
from torch._inductor import decomposition, lowering
from torch.fx.experimental.proxy_tensor import make_fx

from pyross.cli import main
from pyross.compiled import check_compiler, decompositions, inductor_options, split_bias
from pyross.errors import PyrossError
from pyross.models import M2
from pyross.objectives import SemiSupervisedELBO

K, D = 3, 6



def _has_compiler():
    """Whether torch's compiler finds a C++ compiler (the search ``fit --compile`` makes)."""
    try:
        check_compiler()
    except PyrossError:
        return False
    return True


needs_compiler = pytest.mark.skipif(not _has_compiler(), reason="torch.compile needs a C++ compiler (g++), and "
                                                                "none is found")


@pytest.fixture(scope="module", autouse=True)
def on_a_ci_service():
    """These tests run as on a CI service, which sets the environment variable ``CI``: torch's compiler then
    refuses to call a kernel of torch's for an operator it could decompose unless told to (batch norm's, on a
    CPU: :func:`pyross.compiled.decompositions`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CI", "true")
        yield


@pytest.fixture(scope="module", params=["none", "all"])
def objectives(request):
    """M2 without batch norm and with batch norm in every network (on a CPU, torch's batch-norm kernels called
    from the compiled code, which updates the running statistics). Each compilation takes tens of seconds on
    two cores, so one model of each serves the tests."""
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = M2(x_dim=D, num_classes=K, z_dim=2, hidden=(5,), batch_norm=request.param)
    eager = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000)
    compiled = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000, compile=True)
    return model, eager, compiled


def batches(n, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.bernoulli(torch.full((n, D), 0.5), generator=generator)
    return (x, torch.arange(n) % K), torch.bernoulli(torch.full((n, D), 0.5), generator=generator)


def loss_and_grads(model, objective, labelled, unlabelled, seed):
    """The loss of a step with the noise of ``seed``, its terms, its gradients and batch norm's statistics after it."""
    model.zero_grad()
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    torch.manual_seed(seed)
    loss = objective(objective.model, objective.guide, labelled, unlabelled)
    loss.backward()
    after = {name: b.clone() for name, b in model.named_buffers()}
    with torch.no_grad():  # the next call starts from the same statistics
        for name, b in model.named_buffers():
            b.copy_(buffers[name])
    return loss.detach(), dict(objective.terms), [p.grad.clone() for p in model.parameters()], after


@needs_compiler
def test_compiled_loss_equals_the_eager_one(objectives):
    model, eager, compiled = objectives
    # a second shape compiles again, the first kept: checked once, without batch norm (each compilation takes tens of
    # seconds on two cores)
    batch_norm = any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
    sizes = (6, 6) if batch_norm else (6, 4, 6)
    # inductor's fused loops round differently from the eager kernels. The loss and its terms may differ in the
    # last bits: Pyro's Trace_ELBO adds its loss summed in Python floats and subtracts the tensor's own value read
    # into Python, and the recording freezes those reads (their difference is a rounding error of the recorded batch)
    for seed, n in enumerate(sizes):
        labelled, unlabelled = batches(n, seed)
        # the first call of a shape records and compiles, drawing no noise of its own
        loss, terms, grads, buffers = loss_and_grads(model, eager, labelled, unlabelled, seed)
        got, got_terms, got_grads, got_buffers = loss_and_grads(model, compiled, labelled, unlabelled, seed)
        assert torch.allclose(got, loss, rtol=1e-5, atol=1e-5), (got, loss)
        assert got_terms.keys() == terms.keys() and all(abs(got_terms[k] - terms[k]) < 1e-4 for k in terms)
        for g, e in zip(got_grads, grads):
            assert torch.allclose(g, e, rtol=1e-4, atol=1e-5)
        for name in buffers:  # batch norm's running statistics move as in an eager step
            assert torch.allclose(got_buffers[name], buffers[name], rtol=0, atol=1e-6), name
    steps = compiled._loss_and_terms.compiled
    assert len(steps) == len(set(sizes))
    for step in steps.values():  # compiled, not the recorded graph itself
        assert not isinstance(step, torch.fx.GraphModule)


def test_batch_norm_stays_torchs_kernels_on_a_cpu_only():
    """On a CPU in float32 inductor is handed no decomposition of batch norm, so that the compiled code calls torch's
    kernels; elsewhere, and under autocast, its usual table (``None``); every other decomposition is kept."""
    options = inductor_options([torch.zeros(1)])
    table = decompositions([torch.zeros(1)], options)
    names = {str(op) for op in table}
    assert not any("batch_norm" in name for name in names)
    assert "aten.native_batch_norm.default" not in names and "aten.native_batch_norm_backward.default" not in names
    assert "aten.softplus.default" in names and len(table) > 100
    left_out = {op for op in decomposition.select_decomp_table() if "batch_norm" in str(op)}
    assert left_out and all(op in lowering.lowerings for op in left_out)  # compiled as calls of torch's kernels
    assert decompositions([torch.zeros(1, device="meta")], options) is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert decompositions([torch.zeros(1)], options) is None


@needs_compiler
def test_compiled_loss_tells_svi_its_parameters(objectives):
    """SVI steps the parameters it sees read: the compiled call reads none itself, so it names them."""
    model, _, compiled = objectives
    labelled, unlabelled = batches(6)
    with pyro.poutine.trace(param_only=True) as seen:
        compiled(compiled.model, compiled.guide, labelled, unlabelled)
    names = {pyro.get_param_store().param_name(p) for p in model.parameters()}
    assert set(seen.trace.nodes) == names


@needs_compiler
def test_fit_compile_writes_the_run_folder(mnist_dir, tmp_path):
    out = tmp_path / "compiled"
    args = ["fit", "m2", "--compile", "--data-dir", mnist_dir, "--out", out, "--labels", "20", "--unlabelled", "40",
            "--batch-size", "20", "--hidden", "8", "--classifier", "mlp", "--classifier-hidden", "8",
            "--decoder-hidden", "8", "--z-dim", "2", "--epochs", "1", "--device", "cpu", "--quiet"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert (out / "best.pt").exists()
    assert '"compile": true' in (out / "config.json").read_text()


def test_an_eager_fit_imports_no_compiler(mnist_dir, tmp_path):
    """torch's compiler (dynamo and inductor) adds about 190 MiB to a process when imported: a run without
    ``--compile`` leaves it out (docs/performance.md, "Memory")."""
    code = ("import sys\nfrom pyross.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    assert not e.code\nimported = {'torch._dynamo', 'torch._inductor'} & set(sys.modules)\n"
            "assert not imported, imported")
    args = ["fit", "m2", "--data-dir", mnist_dir, "--out", tmp_path / "eager", "--labels", "20", "--unlabelled", "40",
            "--batch-size", "20", "--hidden", "8", "--classifier-hidden", "8", "--decoder-hidden", "8", "--z-dim", "2",
            "--epochs", "1", "--quiet"]
    subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True)


def test_split_bias_writes_linear_layers_as_a_product_and_a_sum():
    """The graph compiled holds no ``addmm``: each linear layer is an ``mm`` and an ``add``, of the same value."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(D, 5), torch.nn.Softplus(), torch.nn.Linear(5, K))
    x = torch.randn(4, D)
    graph = make_fx(net)(x)
    ops = [node.target for node in graph.graph.nodes]
    assert ops.count(torch.ops.aten.addmm.default) == 2
    split_bias(graph)
    ops = [node.target for node in graph.graph.nodes]
    assert torch.ops.aten.addmm.default not in ops
    assert ops.count(torch.ops.aten.mm.default) == 2 and ops.count(torch.ops.aten.add.Tensor) == 2
    assert torch.allclose(graph(x), net(x), rtol=1e-6, atol=1e-6)


@needs_compiler
def test_batch_norm_compiles_under_bfloat16_autocast():
    """Under ``--precision bfloat16`` (autocast) a step with batch norm compiles, and its loss is the eager one's up to
    rounding (torch's batch-norm kernel, called from the compiled code with bfloat16 activations, returned float32
    where inductor expected bfloat16: there inductor writes batch norm itself)."""
    from pyross.precision import Precision
    pyro.clear_param_store()
    torch.manual_seed(0)
    model = M2(x_dim=D, num_classes=K, z_dim=2, hidden=(5,), batch_norm="all")
    precision = Precision("bfloat16", "cpu")
    precision.attach(model)
    eager = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000)
    compiled = SemiSupervisedELBO(model, alpha=0.1, n_labelled=10, n_train=1000, compile=True)
    labelled, unlabelled = batches(6)
    with precision():
        torch.manual_seed(1)
        expected = eager(eager.model, eager.guide, labelled, unlabelled)
        torch.manual_seed(1)
        got = compiled(compiled.model, compiled.guide, labelled, unlabelled)
    assert torch.isfinite(got) and torch.allclose(got, expected, rtol=1e-3)
