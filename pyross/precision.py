"""Reduced-precision training: the networks' arithmetic in bfloat16 (or float16), the probability in float32.

``fit MODEL --precision bfloat16`` runs every training step under :func:`torch.autocast`: the
matrix products and convolutions of the networks, forward and backward, take bfloat16
inputs (the weights stay float32, and so does Adam's update). Everything the model code
sees is float32 again: :meth:`Precision.attach` casts the output of each network the model
calls back to float32, so the distributions, their log-densities, Pyro's sums over the
enumerated classes and the loss are computed in float32, as without autocast. Validation and
test accuracy are computed in float32.

On a CPU with AVX-512 BF16 a bfloat16 matrix product runs about three times as fast as a
float32 one (docs/performance.md); on a CPU without bfloat16 instructions it is emulated and
much slower, and ``fit`` says so (:meth:`Precision.warning`). float16 is for GPUs. The option changes results (the
products are rounded to 8 bits of mantissa), so it is opt-in; docs/performance.md compares
the validation curves with float32's.
"""
import contextlib

import torch

from .errors import PyrossError

#: the values of ``--precision``
PRECISIONS = ("float32", "bfloat16", "float16")


class Precision:
    """The precision of the training steps: a context manager for each step.

    :param str name: one of :data:`PRECISIONS`.
    :param device: the device the model trains on.
    :raises PyrossError: for an unknown name, or float16 on a CPU.
    """

    def __init__(self, name, device):
        if name not in PRECISIONS:
            raise PyrossError(f"--precision must be one of {', '.join(PRECISIONS)}, not {name!r}")
        self.name, self.device_type = name, torch.device(device).type
        if name == "float16" and self.device_type == "cpu":
            raise PyrossError("--precision float16 is for GPUs; on a CPU use bfloat16")
        self.reduced = name != "float32"
        self._depth = 0  # how deep the current network call is nested in other modules' calls

    def warning(self):
        """A one-line warning where this precision is slower than float32 on this machine, else ``None``.

        bfloat16 on a CPU without bfloat16 instructions (AVX-512 BF16 or AMX) is emulated: its
        matrix products ran 20 to 30 times slower than float32's on a 2-core AMD EPYC with AVX2
        only (docs/performance.md).
        """
        if self.name == "bfloat16" and self.device_type == "cpu" and not cpu_has_bfloat16():
            return ("warning: this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX), so --precision bfloat16 "
                    "is emulated and runs slower than float32 here")
        return None

    def attach(self, model):
        """Make each outermost module call inside ``model`` (a network the model code calls)
        return float32 tensors under reduced precision. Nothing happens for float32."""
        if not self.reduced:
            return
        for module in model.modules():
            module.register_forward_pre_hook(self._enter_module)
            module.register_forward_hook(self._leave_module, always_call=True)

    def _enter_module(self, module, inputs):
        self._depth += 1

    def _leave_module(self, module, inputs, output):
        self._depth -= 1
        if self._depth == 0 and torch.is_autocast_enabled(self.device_type):
            return _to_float32(output)
        return None

    def __call__(self):
        """The context of one training step."""
        if not self.reduced:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=getattr(torch, self.name))


def cpu_has_bfloat16():
    """Whether this CPU multiplies bfloat16 matrices natively (oneDNN's own test; ``True`` if torch lacks it)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


def _to_float32(output):
    if isinstance(output, torch.Tensor):
        return output.float() if output.is_floating_point() else output
    if isinstance(output, tuple):
        return tuple(_to_float32(o) for o in output)
    return output
