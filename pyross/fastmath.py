r"""Softplus and the Bernoulli log-density, computed faster on CPUs than torch computes them.

Both need :math:`\log(1 + e^{-|a|})`. torch computes it with ``log1p``, whose CPU kernel
was about 7 times as slow as ``log`` on the 2-core AMD EPYC of docs/performance.md (2.2 ms
against 0.31 ms for 500,000 numbers), so that ``torch.nn.functional.softplus`` and the
Bernoulli log-density (``binary_cross_entropy_with_logits``, ``log_sigmoid``) were a fifth of
the operator time of an M2 step with the paper's networks. Here the same quantities are written
with ``exp`` and ``log``:

.. math::

    \mathrm{softplus}(a) &= \log(1 + e^{a}) = \max(a, 0) + \log(1 + e^{-|a|}) \\
    \log \mathrm{Bernoulli}(x \mid \mathrm{logits}\ a) &= x a - \mathrm{softplus}(a)

with their exact gradients, :math:`\sigma(a)` and :math:`x - \sigma(a)`, in a custom
backward. ``log(1 + u)`` instead of ``log1p(u)`` rounds ``1 + u`` first: the absolute error is
below float32's spacing near 1 (about 1e-7), and a softplus below that (:math:`a < -16`)
comes out as 0. torch's own float32 softplus has the same largest absolute error over
:math:`[-40, 40]` (``tests/test_fastmath.py`` checks both against float64).

Tensors on a CPU take this path. bfloat16 and float16 ones (the networks' activations under
``--precision bfloat16``) are computed in float32 and rounded back, as torch's own kernels do.
Tensors on a GPU, where torch's kernels are fused and fast, go to torch's own functions.

A step recorded for :func:`torch.compile` (:func:`fusable`, :mod:`pyross.compiled`) cannot use the
hand-written gradients: there both are written as differentiable expressions of ``exp`` and ``log``,

.. math::

    \mathrm{softplus}(a) = \log(1 + e^{\min(a, 20)}) \text{ for } a < 20, \quad a \text{ from 20 on},

which the compiler fuses and differentiates itself. torch's own ``softplus`` and log-density would
give it ``log1p`` again: on the AMD EPYC with AVX-512 of docs/performance.md its vectorised form took three
quarters of the compiled M2 step's fused loops ("Fused loops without ``log1p``"). There the ReLU
(:func:`relu`) is written as :math:`(a + |a|)/2`, whose gradient needs no mask of booleans.
"""
import contextlib

import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F


_fusable = [False]  # inside fusable(): expressions of torch's operators, differentiated by autograd


def _fast(a):
    """Whether ``a`` takes the ``exp``/``log`` path."""
    return a.device.type == "cpu" and a.is_floating_point()


@contextlib.contextmanager
def fusable():
    """Inside, :func:`softplus` and :func:`bernoulli_log_prob` are expressions of torch's element-wise
    operators, with no gradient written by hand: what a recording for :func:`torch.compile` needs
    (:mod:`pyross.compiled`), whose compiler fuses and differentiates them itself, and cannot see into
    the custom gradients here. On a CPU they are the ``exp``/``log`` expressions of this module's
    docstring; elsewhere torch's own functions."""
    outer, _fusable[0] = _fusable[0], True
    try:
        yield
    finally:
        _fusable[0] = outer


def _tail(x):
    """:math:`\\log(1 + e^{-|x|})`, a new tensor."""
    return x.abs().neg_().exp_().add_(1).log_()


def _softplus_expression(a):
    """:math:`\\log(1 + e^{a})` as a differentiable expression of ``exp`` and ``log``; ``a`` itself from torch's
    threshold of 20 on (where the two are equal in float32), and :math:`e^{a}` capped there, so that neither
    value nor gradient overflows. Its gradient, :math:`e^{a} / (1 + e^{a})` below 20 and 1 from 20 on, is
    :math:`\\sigma(a)` in float32, at 0 too. Computed in float32 at least.

    (The cap is ``clamp_max``, whose gradient the compiler recomputes from ``a``. As a mask, which the backward
    pass reads, the paper's compiled step took 0.90x the time of the one with torch's functions, against 0.76x:
    docs/performance.md.)"""
    x = a.to(torch.promote_types(a.dtype, torch.float32))
    return torch.where(x >= 20, x, x.clamp_max(20).exp().add(1).log()).to(a.dtype)


def _softplus_values(a):
    """:math:`\\max(a, 0) + \\log(1 + e^{-|a|})`, without gradient, in float32 at least."""
    x = a.to(torch.promote_types(a.dtype, torch.float32))
    return _tail(x).add_(x.clamp_min(0)).to(a.dtype)


# The passes below make as few new tensors as the arithmetic needs (with the paper's networks an M2
# step's logits are 10 classes x 100 images x 784 pixels, 3 MB), and they give the values of the
# plain expressions in the docstring bit for bit (tests/test_fastmath.py).

class _Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _softplus_values(a)

    @staticmethod
    def backward(ctx, grad):
        a, = ctx.saved_tensors
        return torch.sigmoid(a).mul_(grad)


def _bernoulli_log_prob_values(logits, value):
    """:math:`x a - \\mathrm{softplus}(a)`, without gradient."""
    x = logits.to(torch.promote_types(torch.result_type(value, logits), torch.float32))
    tail = _tail(x)
    softplus = x.clamp_min(0).add_(tail).to(logits.dtype)
    return torch.mul(value, logits, out=tail).sub_(softplus)  # x a - softplus(a), in tail's memory


class _BernoulliLogProb(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, value):
        ctx.save_for_backward(logits, value)
        return _bernoulli_log_prob_values(logits, value)

    @staticmethod
    def backward(ctx, grad):
        logits, value = ctx.saved_tensors
        # grad comes broadcast from the sum over the pixels (stride 0): multiplied in place last, so
        # that the gradient is laid out as the logits are (a product with grad first comes out strided)
        grad_logits = (value - torch.sigmoid(logits)).mul_(grad) if ctx.needs_input_grad[0] else None
        grad_value = grad * logits if ctx.needs_input_grad[1] else None
        return grad_logits, grad_value


def softplus(a):
    """:math:`\\log(1 + e^{a})`, element-wise: ``torch.nn.functional.softplus`` with the default
    ``beta`` and ``threshold``, faster on CPUs."""
    if not _fast(a):
        return F.softplus(a)
    if _fusable[0]:
        return _softplus_expression(a)
    return _Softplus.apply(a)


def bernoulli_log_prob(logits, value):
    """:math:`x a - \\mathrm{softplus}(a)`: the log-density of ``value`` (0/1, or in [0, 1])
    under Bernoulli distributions with ``logits``; the two broadcast against each other."""
    logits, value = torch.broadcast_tensors(logits, value)
    if not _fast(logits):
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")
    if _fusable[0]:
        return value * logits - _softplus_expression(logits)
    return _BernoulliLogProb.apply(logits, value)


def relu(a):
    """:math:`\\max(a, 0)`, element-wise: ``torch.nn.functional.relu``; inside :func:`fusable`, on a CPU, the
    expression :math:`(a + |a|) / 2`, equal to it in every floating-point format. Differentiated by the compiler,
    ``relu`` leaves a mask of booleans for the backward pass, and inductor's loops on the 2-core AMD EPYC with
    AVX-512 of docs/performance.md stored such a mask at about 5 ns a number (3.4 ms for 600,000, against 0.05 ms
    for the ReLU alone); the expression's gradient, :math:`(1 + \\mathrm{sign}(a)) / 2`, needs none. It is 1/2 at
    :math:`a = 0` (a subgradient, where torch's is 0)."""
    if _fusable[0] and _fast(a):
        return (a + a.abs()) * 0.5
    return F.relu(a)


class ReLU(nn.Module):
    """The activation :func:`relu` as a layer (a drop-in for ``nn.ReLU()``)."""

    def forward(self, a):
        return relu(a)


class Softplus(nn.Module):
    """The activation :func:`softplus` as a layer (no parameters: a drop-in for ``nn.Softplus()``)."""

    def forward(self, a):
        return softplus(a)


class Bernoulli(dist.Bernoulli):
    """Pyro's Bernoulli distribution with :func:`bernoulli_log_prob` as its log-density: the
    likelihood of the pixels of every model with binary images."""

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return bernoulli_log_prob(self.logits, value)
