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
"""
import warnings


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
        if key in self.elbos:
            return self.elbos[key].differentiable_loss(model, guide, *args)
        self.elbos[key] = self.elbo_class(**self.options)
        with warnings.catch_warnings():  # the first call traces
            warnings.filterwarnings("ignore", message=".*torch.jit.trace.*deprecated", category=FutureWarning)
            return self.elbos[key].differentiable_loss(model, guide, *args)
