"""One Adam for every parameter of a model, behind Pyro's optimiser interface.

:class:`pyro.optim.Adam` keeps one :class:`torch.optim.Adam` per parameter and steps them
one after the other. Adam's update is elementwise, so one :class:`torch.optim.Adam` over all
the parameters takes exactly the same steps; :class:`JointAdam` does that with PyTorch's
multi-tensor (``foreach``) implementation, which spends less Python per step.
:class:`~pyro.infer.SVI` drives it as it drives Pyro's own optimisers.
"""
import pyro
import torch
from pyro.optim import PyroOptim


def _name(param):
    return pyro.get_param_store().param_name(param)


class JointAdam(PyroOptim):
    """Adam over all the parameters the steps touch, as one optimiser.

    A parameter joins the first time a step touches it; a parameter a step does not touch has
    no gradient and is left alone, as with :class:`pyro.optim.Adam`. The state is saved by
    parameter name (:meth:`get_state`); :meth:`set_state` also reads the per-parameter state
    that :class:`pyro.optim.Adam` saves, so older checkpoints resume.

    :param float lr: the learning rate.
    """

    def __init__(self, lr):
        super().__init__(torch.optim.Adam, {"lr": lr})
        self.optimizer = None
        self.params = {}  # parameter -> its name in Pyro's param store, in the order they joined
        self._waiting = {}  # saved state, by name, of parameters not seen yet

    def __call__(self, params, *args, **kwargs):
        """Take one Adam step on ``params`` (the parameters of one SVI step)."""
        new = [p for p in params if p not in self.params]
        if new:
            self._add(sorted(new, key=_name))
        self.optimizer.step()

    def _add(self, params):
        for p in params:
            self.params[p] = _name(p)
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam(params, lr=self.pt_optim_args["lr"], foreach=True)
        else:
            self.optimizer.add_param_group({"params": params})
        for p in params:
            state = self._waiting.pop(self.params[p], None)
            if state:
                self.optimizer.state[p] = {k: v.to(p.device) if k != "step" else v for k, v in state.items()}

    def get_state(self):
        """The Adam state of each parameter, by parameter name."""
        state = dict(self._waiting)
        if self.optimizer is not None:
            for p, name in self.params.items():
                if p in self.optimizer.state:
                    state[name] = {k: v.clone() for k, v in self.optimizer.state[p].items()}
        return {"joint_adam": state}

    def set_state(self, state_dict):
        """Load what :meth:`get_state` (or :meth:`pyro.optim.Adam.get_state`) returned."""
        if "joint_adam" in state_dict:
            waiting = dict(state_dict["joint_adam"])
        else:  # pyro.optim.Adam: {name: the state_dict of that parameter's own torch Adam}
            waiting = {name: optim["state"][0] for name, optim in state_dict.items() if optim["state"]}
        self.optimizer, self.params, self._waiting = None, {}, waiting
