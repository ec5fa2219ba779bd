"""One Adam for every parameter of a model, in one fused kernel, behind Pyro's optimiser interface.

:class:`pyro.optim.Adam` keeps one :class:`torch.optim.Adam` per parameter and steps them
one after the other. Adam's update is elementwise, so one update over all the parameters
takes exactly the same steps. :class:`JointAdam` makes that update with PyTorch's fused Adam
kernel (``torch._fused_adam_``, what ``torch.optim.Adam(fused=True)`` calls), called directly:

* the fused kernel reads and writes each parameter and its two moments once per step, where
  the multi-tensor (``foreach``) Adam makes a pass per operation: 1.2 ms against 3.8 ms a step
  for M2's 1.6 million parameters on 2 CPU cores (docs/performance.md);
* calling the kernel, not ``torch.optim.Adam.step``, keeps ``torch._dynamo`` (which the
  optimiser's ``step`` imports, about 150 MB) out of the process.

:class:`~pyro.infer.SVI` drives it as it drives Pyro's own optimisers.
"""
import pyro
import torch
from pyro.optim import PyroOptim


def _name(param):
    return pyro.get_param_store().param_name(param)


class JointAdam(PyroOptim):
    """Adam (Kingma and Ba 2015, with PyTorch's defaults) over all the parameters the steps touch.

    A parameter joins with its first gradient; a parameter a step does not pass (one the step's
    model and guide did not read) is left alone, as with :class:`pyro.optim.Adam` (see
    :meth:`__call__`). The state of a parameter
    is the one :class:`torch.optim.Adam` keeps (``step``, ``exp_avg``, ``exp_avg_sq``) and is
    saved by parameter name (:meth:`get_state`); :meth:`set_state` also reads the
    per-parameter state that :class:`pyro.optim.Adam` saves, so older checkpoints resume.

    :param float lr: the learning rate.
    :param tuple betas: the decay rates of the moments.
    :param float eps: added to the root of the second moment.
    """

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(torch.optim.Adam, {"lr": lr})
        self.lr, self.betas, self.eps = lr, betas, eps
        self.params = {}  # parameter -> its name in Pyro's param store, in the order they joined
        self.state = {}  # parameter -> {"step", "exp_avg", "exp_avg_sq"}
        self._waiting = {}  # saved state, by name, of parameters not seen yet

    def __call__(self, params, *args, **kwargs):
        """Take one Adam step on ``params`` (the parameters of one SVI step), then free their gradients.

        A parameter joins with its first gradient. Once joined, it takes every step it is passed
        to, with a zero gradient where it has none: the step it takes under :class:`~pyro.infer.SVI`
        with Pyro's own optimisers, after which SVI sets each gradient to a tensor of zeros for the
        next step's backward pass to add to. Freeing the gradients instead (``p.grad = None``, what
        ``torch.optim.Optimizer.zero_grad`` does by default) makes SVI's zeroing a no-op, so the next
        backward pass stores its gradients instead of adding them to zeros: the same values, without
        writing and then reading over a million zeros a step for M2 (docs/performance.md, "Gradients
        freed, not zeroed").
        """
        params = [p for p in params if p.grad is not None or p in self.params]
        new = [p for p in params if p not in self.params]
        for p in sorted(new, key=_name):
            self._add(p)
        groups = {}  # the fused kernel takes tensors of one device and dtype
        for p in params:
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            groups.setdefault((p.device, p.dtype), []).append((p, grad))
        with torch.no_grad():
            for group in groups.values():
                states = [self.state[p] for p, _ in group]
                steps = [s["step"] for s in states]
                torch._foreach_add_(steps, 1)
                torch._fused_adam_([p for p, _ in group], [g for _, g in group], [s["exp_avg"] for s in states],
                                   [s["exp_avg_sq"] for s in states], [], steps, lr=self.lr,
                                   beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0, eps=self.eps,
                                   amsgrad=False, maximize=False)
        for p in params:
            p.grad = None

    def _add(self, p):
        self.params[p] = _name(p)
        state = self._waiting.pop(self.params[p], None)
        if state:
            state = {k: (v.detach().float().reshape(()) if k == "step" else v).to(p.device, copy=True)
                     for k, v in state.items()}
        else:  # the fused kernel wants the step count on the parameter's device
            state = {"step": torch.zeros((), device=p.device), "exp_avg": torch.zeros_like(p),
                     "exp_avg_sq": torch.zeros_like(p)}
        self.state[p] = state

    def get_state(self):
        """The Adam state of each parameter, by parameter name."""
        state = dict(self._waiting)
        for p, name in self.params.items():
            state[name] = {k: v.clone() for k, v in self.state[p].items()}
        return {"joint_adam": state}

    def set_state(self, state_dict):
        """Load what :meth:`get_state` (or :meth:`pyro.optim.Adam.get_state`) returned."""
        if "joint_adam" in state_dict:
            waiting = dict(state_dict["joint_adam"])
        else:  # pyro.optim.Adam: {name: the state_dict of that parameter's own torch Adam}
            waiting = {name: optim["state"][0] for name, optim in state_dict.items() if optim["state"]}
        self.params, self.state, self._waiting = {}, {}, waiting
