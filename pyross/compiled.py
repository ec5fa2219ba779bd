"""A training step's loss compiled whole: Pyro's ELBO recorded as tensor operations, then fused
by :func:`torch.compile` (``fit --compile``).

Pyro computes an ELBO in Python: the effect handlers run model and guide, ``TraceEnum_ELBO``
builds the sum over the enumerated classes, and each step makes a few thousand small tensor
operations, most of them element-wise passes over the decoder's logits (10 classes x 100
images x 784 pixels with M2). :class:`CompiledLoss` runs that Python once per shape of the
batch, with :func:`torch.fx.experimental.proxy_tensor.make_fx` recording every tensor
operation it makes (the model and the guide, Pyro's sum over the classes, the classifier
term) in one graph, and hands the graph to :func:`torch.compile`. Its compiler (inductor)
differentiates the graph and writes the forward and the backward pass as a few loops in C++,
each fusing a chain of element-wise passes, around the matrix products (each linear layer's bias
split from its product first, so that its sum joins a loop: :func:`split_bias`). Later steps of that
shape call the compiled code and no Python of Pyro's; model and guide stay a Pyro
``model``/``guide`` pair, and :class:`~pyro.infer.SVI` steps their parameters as before.

What a recording freezes:

* Python control flow that depends on the data is frozen at the first trace, as with
  ``--jit`` (:mod:`pyross.jit`). So are Pyro's checks of values: the recording is made with
  Pyro's validation off, and it keeps the branch of ``TraceEnum_ELBO`` for the case where every
  class has a probability above zero (it drops classes of probability exactly 0 otherwise,
  which only an underflow of :math:`q(y \\mid x)` makes).
* Python numbers are constants of the graph: an objective whose weights change during training
  (a KL warm-up) cannot be compiled this way. The semi-supervised ELBO's weights are fixed.
* :mod:`pyross.fastmath`'s hand-written gradients are not recorded: the graph holds its softplus and
  Bernoulli log-density as expressions of ``exp`` and ``log``, and the ReLU as :math:`(a + |a|)/2`
  (:func:`pyross.fastmath.fusable`), which the compiler fuses and differentiates.
* Random draws are torch's own, made by the compiled code in the order the recording made them
  (inductor's ``fallback_random``), and recording draws nothing (``torch.random.fork_rng``): a
  compiled run draws the numbers an uncompiled one draws from the same seed, so that it is the
  same run, up to rounding (``tests/test_compiled.py``; docs/performance.md).

The compiler needs a C++ compiler (``g++``) at run time; compiling the M2 step takes a few
tens of seconds, once per shape, and is cached on disk by torch for later runs. It pays with
small networks. On a CPU in float32, batch norm is left to torch's own kernels, called from the
compiled code (:func:`decompositions`): inductor's loops for it were measured slower on an Intel Xeon
(docs/performance.md, "Compiling the whole step" and "ReLU without a mask of booleans").
"""
import functools

import pyro
import torch
from pyro import poutine
from torch import nn
from torch.fx.experimental.proxy_tensor import make_fx
from torch.utils import _pytree as pytree

from . import fastmath
from .errors import PyrossError
from .jit import _no_autocast_cache


class _Step(nn.Module):
    """``fn`` as a module holding ``net``, so that :func:`torch.func.functional_call` can call it
    with the weights and buffers of ``net`` given as arguments."""

    def __init__(self, net, fn):
        super().__init__()
        self.net, self.fn = net, fn

    def forward(self, *args):
        return self.fn(*args)


class CompiledLoss:
    """``fn(*args)``, a loss of the weights of ``net``, recorded and compiled once per shape of its arguments.

    :param fn: a function of tensors (or tuples of them, or ``None``) returning the loss and any
        other tensors; it reads ``net``'s weights through Pyro (``pyro.module``) or directly.
    :param net: the :class:`torch.nn.Module` whose parameters and buffers ``fn`` reads.
    """

    def __init__(self, fn, net):
        self.step = _Step(net, fn)
        self.compiled = {}  # key of the arguments' shapes -> compiled function
        self.param_names = {}  # key -> names of the Pyro parameters fn reads
        self.out_spec = {}  # key -> how fn's outputs nest

    def __call__(self, *args):
        flat, spec = pytree.tree_flatten(args)
        key = (str(spec), *((tuple(a.shape), a.dtype, a.device) for a in flat),
               *((torch.is_autocast_enabled(d), torch.get_autocast_dtype(d)) for d in ("cpu", "cuda")))
        if key not in self.compiled:
            self._compile(key, args)
        out = self.compiled[key](self._tensors(), *flat)
        for name in self.param_names[key]:  # SVI steps the Pyro parameters it sees read
            pyro.param(name)
        return pytree.tree_unflatten(out, self.out_spec[key])

    def _tensors(self):
        """The weights and buffers of ``net``, by name."""
        return dict(self.step.named_parameters()) | dict(self.step.named_buffers())

    def _compile(self, key, args):
        """Record the operations of ``fn(*args)`` and compile them. The calls made to record them draw
        no numbers from torch's generators: the first compiled step draws those an eager one would."""
        flat, spec = pytree.tree_flatten(args)
        with torch.random.fork_rng(devices=sorted({a.device.index or 0 for a in flat if a.is_cuda})):
            self._record(key, args, flat, spec)

    def _record(self, key, args, flat, spec):
        buffers = {name: b.clone() for name, b in self.step.named_buffers()}
        with poutine.block(), poutine.trace(param_only=True) as params:
            self.step(*args)  # creates Pyro's parameters if new; tells which fn reads
        self.param_names[key] = list(params.trace.nodes)
        with torch.no_grad():  # that call moved batch norm's running statistics: back
            for name, b in self.step.named_buffers():
                b.copy_(buffers[name])

        def pure(tensors, *flat_args):
            out = torch.func.functional_call(self.step, tensors, pytree.tree_unflatten(list(flat_args), spec))
            out, self.out_spec[key] = pytree.tree_flatten(out)
            return out

        tensors = {name: t.detach().clone().requires_grad_(t.requires_grad) for name, t in self._tensors().items()}
        # with fastmath's expressions, which the compiler fuses and differentiates
        with pyro.validation_enabled(False), _no_autocast_cache(), fastmath.fusable():
            graph = make_fx(pure, _error_on_data_dependent_ops=False)(tensors, *flat)
        _drop_read_values(graph)
        split_bias(graph)
        from torch._inductor.compile_fx import compile_fx  # imported here: inductor adds ~190 MiB to a process

        options = inductor_options(flat)
        backend = functools.partial(compile_fx, config_patches=options, decompositions=decompositions(flat, options))
        self.compiled[key] = torch.compile(graph, backend=backend, fullgraph=True, dynamic=False)


def decompositions(inputs, options):
    """The operators that inductor, with ``options``, writes as loops of its own when it compiles a step recorded
    with ``inputs``: its usual ones (``None``), except that on a CPU in float32 batch norm stays a call of torch's
    kernels (inductor's loops for it reduce over the batch column by column, reading with a stride of a row: slower
    than torch's kernels on the Intel Xeon of docs/performance.md, as fast on its AMD EPYC with AVX-512). Under autocast
    (``--precision bfloat16``) inductor writes batch norm too: torch's kernel, called from the compiled code with
    bfloat16 activations and float32 statistics, returns float32 where inductor expects bfloat16 (torch 2.14). Where
    batch norm is left out, the calls of its kernels are registered with inductor (:func:`_call_torchs_kernel`)."""
    if not _on_cpu(inputs) or torch.is_autocast_enabled("cpu"):
        return None
    from torch._inductor import config as inductor_config, decomposition

    with inductor_config.patch(options):
        table = decomposition.select_decomp_table()
    kept = {op: fn for op, fn in table.items() if "batch_norm" not in str(op)}
    for op in table.keys() - kept.keys():
        _call_torchs_kernel(op)
    return kept


def _call_torchs_kernel(op):
    """Tell inductor to compile ``op`` as a call of torch's kernel. Inductor does this itself for an operator it meets
    with neither a decomposition nor loops of its own, but where a decomposition exists in its table, as batch norm's
    do, it raises an error when the environment variable ``CI`` is set (torch 2.14), as on most CI services: so the
    call is registered here, once, with the layout inductor would ask for (contiguous inputs). Compilations that keep
    the decomposition decompose the operator first and never reach this call."""
    from torch._inductor import lowering

    if op not in lowering.lowerings:
        lowering.make_fallback(op, layout_constraint=lowering.require_contiguous, warn=False, override_decomp=True)


def inductor_options(inputs):
    """How inductor compiles a step recorded with ``inputs``: its random draws made by torch's own
    generator in the recorded order (``fallback_random``), so that a compiled run is an eager one; on
    a CPU, the code that calls its loops and the matrix products written in C++ rather than Python
    (``cpp_wrapper``: about 4 % off a step of the paper's networks on two cores in the hours it
    was measured, nothing in another, for no longer a compilation; docs/performance.md, "Splitting
    the bias, and a wrapper in C++")."""
    return {"fallback_random": True, "cpp_wrapper": _on_cpu(inputs)}


def _on_cpu(inputs):
    return any(t.device.type == "cpu" for t in inputs if isinstance(t, torch.Tensor))


def split_bias(graph):
    """Write each ``addmm(b, x, w)`` of ``graph`` (a linear layer: :math:`xw + b`) as ``mm(x, w) + b``.

    Inductor on a CPU keeps ``addmm`` as one call, which first copies the bias into every row of its
    output and then adds the product to it: a pass over the layer's output that fuses with nothing.
    Written as a product and a sum, the sum is an element-wise pass, which inductor fuses into the one
    that follows (the activation, or the log-likelihood of the decoder's logits). Inductor makes this
    split itself on a GPU; on a CPU its own pass writes some of the sums back as ``addmm``. The two
    differ by rounding only (docs/performance.md, "Splitting the bias, and a wrapper in C++").
    """
    nodes = graph.graph
    for node in list(nodes.nodes):
        if node.target is torch.ops.aten.addmm.default and len(node.args) == 3 and not node.kwargs:
            bias, x, w = node.args
            with nodes.inserting_before(node):
                product = nodes.call_function(torch.ops.aten.mm.default, (x, w))
                node.replace_all_uses_with(nodes.call_function(torch.ops.aten.add.Tensor, (product, bias)))
            nodes.erase_node(node)
    graph.recompile()


def check_compiler():
    """Raise a one-line :class:`~pyross.errors.PyrossError` if torch's compiler has no C++ compiler to call."""
    from torch._inductor.cpp_builder import get_cpp_compiler
    try:
        get_cpp_compiler()
    except Exception as e:  # inductor's InvalidCxxCompiler, or an OSError while it searches
        raise PyrossError("--compile needs a C++ compiler (g++, or the one named by $CXX): install one, or leave "
                          "out --compile") from e


def _drop_read_values(graph):
    """Remove from ``graph`` the reads of tensor values into Python (Pyro's checks of values and its
    choice of a branch), which the recording has frozen, and what only they used."""
    for node in list(graph.graph.nodes):
        if node.target is torch.ops.aten._local_scalar_dense.default:
            graph.graph.erase_node(node)
    graph.graph.eliminate_dead_code()
    graph.recompile()
