"""Pyro's compiled ELBOs, compiled once per shape of the batch.

:class:`~pyro.infer.JitTrace_ELBO` and :class:`~pyro.infer.JitTraceEnum_ELBO` trace model and
guide once with :func:`torch.jit.trace` and then replay the recorded tensor operations without
running the Python of the model, the guide and Pyro's effect handlers again. A trace records
the batch size as a constant (the size of the ``data`` plate), and Pyro keys its compiled
functions on the number of arguments only, so a batch of another size (the last, smaller
batch of an epoch) would replay a graph recorded for the wrong size. :class:`PerShape` keeps
one compiled ELBO per combination of argument shapes.

pyross compiles with :class:`~pyro.infer.JitTraceEnum_ELBO` only, labelled batches included (with
nothing to enumerate it is the plain ELBO): ``JitTrace_ELBO.differentiable_loss`` returns
``loss + (surrogate - surrogate.detach())`` with a differentiable ``loss``, which doubles the
gradient of a reparameterised model (``tests/test_jit.py`` caught it). Pyro also keys a compiled ELBO
on the identity of the model and guide functions: pass the same function objects every call,
as :class:`~pyro.infer.SVI` does (a bound method made anew each call, ``net.model``, has a new
identity and would be traced again).

A compiled model must have a static structure: Python control flow that depends on the data
is frozen at its first trace. That is why compiling is an option (``fit --jit``), not the
default.

On a CPU the replay runs the recorded operations as they are, without TorchScript's optimising
executor (:func:`torch.jit.optimized_execution` off). On a CPU that executor fuses nothing (its
CPU fuser is off by default, and torch 2.14.1 from PyPI is built without the LLVM it needs); what it
does do is differentiate the graph by its own symbolic rules, which for some operations make more passes
than autograd's (a ReLU's gradient as ``gt``, a cast and a ``mul``, where autograd makes one
``threshold_backward``). With it off, autograd records each replayed operation as in an eager
step (docs/performance.md, "`--jit` on a CPU without TorchScript's optimising executor"). On a
GPU the executor is kept: its GPU fuser is on by default there.

Under reduced precision (``fit --jit --precision bfloat16``, :mod:`pyross.precision`) the
compiled ELBOs trace and replay with autocast's cache of cast weights turned off: a trace
would record a weight's cached bfloat16 copy as a constant, so later steps would multiply by
the weights of the first one (torch refuses such a trace: the copy requires grad). Without the
cache each network call casts its weights anew, and the trace records the casts.
"""
import contextlib
import warnings

import torch


class PerShape:
    """One compiled ELBO per combination of the shapes of its tensor arguments.

    :param elbo_class: a compiled ELBO class, :class:`~pyro.infer.JitTraceEnum_ELBO`.
    :param options: keyword arguments of ``elbo_class`` (``max_plate_nesting``, ...).
    """

    def __init__(self, elbo_class, **options):
        self.elbo_class, self.options = elbo_class, {"ignore_jit_warnings": True, **options}
        self.elbos = {}

    def differentiable_loss(self, model, guide, *args):
        """The negative ELBO, differentiable, from the ELBO compiled for these shapes."""
        key = tuple(None if arg is None else tuple(arg.shape) for arg in args)
        on_gpu = any(arg is not None and arg.is_cuda for arg in args)
        with _no_autocast_cache(), torch.jit.optimized_execution(on_gpu):
            if key in self.elbos:
                return self.elbos[key].differentiable_loss(model, guide, *args)
            self.elbos[key] = self.elbo_class(**self.options)
            with warnings.catch_warnings():  # the first call traces
                warnings.filterwarnings("ignore", message=".*torch.jit.trace.*deprecated", category=FutureWarning)
                return self.elbos[key].differentiable_loss(model, guide, *args)


@contextlib.contextmanager
def _no_autocast_cache():
    """Autocast's cache of cast weights off inside (see the module's docstring); no effect without autocast."""
    enabled = torch.is_autocast_cache_enabled()
    torch.set_autocast_cache_enabled(False)
    try:
        yield
    finally:
        torch.set_autocast_cache_enabled(enabled)
