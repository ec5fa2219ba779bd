r"""An exponential moving average of a model's weights, validated and kept in place of the weights.

``fit MODEL --ema DECAY`` keeps, beside the weights :math:`\theta_t` that Adam steps, their
moving average (Polyak averaging; Polyak and Juditsky 1992)

.. math::

    \bar\theta_t = d_t\, \bar\theta_{t-1} + (1 - d_t)\, \theta_t, \qquad
    d_t = \min\!\left(d, \frac{1 + t}{10 + t}\right),

where :math:`t` counts the steps and the second term lets the average forget the initial
weights within the first few hundred steps. Each epoch's validation and test accuracy are
those of :math:`\bar\theta`, and ``best.pt`` holds :math:`\bar\theta` of the best epoch;
training itself goes on from :math:`\theta`. Batch normalisation's running statistics are
averaged like the weights. The average smooths the noise of the last steps out of what is
evaluated; it does not change the steps.
"""
import contextlib

import torch


class WeightAverage:
    """The moving average :math:`\\bar\\theta` of every weight and buffer of ``model``.

    :param model: the model whose weights Adam steps (its tensors are updated in place).
    :param float decay: :math:`d`, in ``[0, 1)``.
    """

    def __init__(self, model, decay):
        self.decay, self.updates = decay, 0
        state = model.state_dict()
        self._names, self._live = list(state), list(state.values())  # the tensors share the model's storage
        self.average = [t.detach().clone() for t in self._live]
        self._floats = [i for i, t in enumerate(self._live) if t.is_floating_point()]
        self._counters = [i for i, t in enumerate(self._live) if not t.is_floating_point()]  # batch norm's

    def update(self):
        """Move the average towards the weights after a step."""
        self.updates += 1
        weight = 1 - min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            torch._foreach_lerp_([self.average[i] for i in self._floats], [self._live[i] for i in self._floats], weight)
            for i in self._counters:
                self.average[i].copy_(self._live[i])

    @contextlib.contextmanager
    def applied(self):
        """Inside the block the model holds the averaged weights; after it, its own again."""
        own = [t.clone() for t in self._live]
        with torch.no_grad():
            for live, average in zip(self._live, self.average):
                live.copy_(average)
        try:
            yield
        finally:
            with torch.no_grad():
                for live, saved in zip(self._live, own):
                    live.copy_(saved)

    def state_dict(self):
        """What :meth:`load_state_dict` reads: the number of updates and the averages by name."""
        return {"updates": self.updates, "average": dict(zip(self._names, self.average))}

    def load_state_dict(self, state):
        self.updates = state["updates"]
        with torch.no_grad():
            for name, average in zip(self._names, self.average):
                average.copy_(state["average"][name])
