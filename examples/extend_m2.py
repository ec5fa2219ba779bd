r"""Tutorial: add a latent site to M2, and touch nothing but the model.

M2's generative story has a class ``y`` and a style ``z``. This file adds a third latent
variable, ``w``: two more continuous dimensions with their own prior, read by the decoder
beside ``y`` and ``z``, and inferred from the image alone.

.. math::

    w &\sim \mathcal{N}(0, I_2)                 && \text{site } \texttt{w} \text{ (new)} \\
    x &\sim p_\theta(x \mid y, z, w)            && \text{site } \texttt{x} \text{ (reads } w\text{)} \\
    q_\phi(w \mid x) &= \mathcal{N}(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x)) && \text{guide site } \texttt{w} \text{ (new)}

Because ``q(w | x)`` does not read ``y``, ``w`` is drawn once per image, not once per
enumerated class: in a trace of the unlabelled bound, ``z`` has shape ``(10, B, 50)`` and ``w``
``(B, 2)``. The new class below is all that changes. The trainer, the objective (the
semi-supervised ELBO, whose ``TraceEnum_ELBO`` picks up the new site by itself), the command
line, the run folder and the figures work unchanged: this script registers the model as
``m2w`` and then drives pyross's own command line.

    python examples/extend_m2.py --epochs 3          # MNIST, 100 labels: about 4 minutes on 2 CPU cores
    python examples/extend_m2.py --smoke --data-dir D   # tiny networks, one short epoch (what the tests run)

It trains into ``runs/example-m2w`` (``--out``), prints the shapes of every site in a Pyro
trace, and draws ``w-grid.png``: each row a class, each column a value of ``w``'s first
dimension, with ``z`` at its prior mean.
"""
import argparse
import os

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import config_enumerate

from pyross.cli import main as pyross_cli
from pyross.models import M2, register
from pyross.nets import MLP, GaussianMLP, one_hot
from pyross.plots import plot_image_grid
from pyross.predict import load_trained
from pyross.runs import Run


class M2W(M2):
    """M2 with a second continuous latent ``w``: p(x, y, z, w) = p(y) p(z) p(w) p(x | y, z, w).

    :param int w_dim: dimension of ``w``.

    The other parameters are :class:`~pyross.models.M2`'s (Bernoulli likelihood only).
    """

    def __init__(self, x_dim=784, num_classes=10, z_dim=50, w_dim=2, hidden=(500,), activation="softplus",
                 batch_norm="none", classifier_hidden=None, decoder_hidden=None, classifier="mlp",
                 image_shape=(1, 28, 28)):
        super().__init__(x_dim, num_classes, z_dim, hidden, activation, batch_norm, classifier_hidden,
                         decoder_hidden, classifier, image_shape)
        self.w_dim = w_dim
        norm = batch_norm == "all"
        # p(x | y, z, w): the decoder reads w too (its inputs broadcast, see pyross.nets.JointLinear)
        self.decoder = MLP([num_classes, z_dim, w_dim], decoder_hidden or hidden, x_dim, activation, norm)
        # q(w | x): from the image alone
        self.encoder_w = GaussianMLP([x_dim], hidden, w_dim, activation, norm)

    def model(self, x, y=None):
        pyro.module("m2", self)
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Categorical(logits=x.new_zeros(self.num_classes)), obs=y)
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.z_dim), 1.0).to_event(1))
            w = pyro.sample("w", dist.Normal(x.new_zeros(self.w_dim), 1.0).to_event(1))  # new
            logits = self.decoder(one_hot(y, self.num_classes), z, w)                   # reads w
            pyro.sample("x", dist.Bernoulli(logits=logits, validate_args=False).to_event(1), obs=x)

    def guide(self, x, y=None):
        pyro.module("m2", self)
        with pyro.plate("data", x.shape[0]):
            if y is None:
                y = pyro.sample("y", dist.Categorical(logits=self.encoder_y(x)))
            pyro.sample("z", dist.Normal(*self.encoder_z(x, one_hot(y, self.num_classes))).to_event(1))
            pyro.sample("w", dist.Normal(*self.encoder_w(x)).to_event(1))               # new

    def decode(self, y, z, w=None):
        """The mean of p(x | y, z, w), with ``w`` at its prior mean 0 unless given (the figures
        of :mod:`pyross.figures` call ``decode(y, z)``)."""
        w = z.new_zeros(self.w_dim) if w is None else w
        return torch.sigmoid(self.decoder(one_hot(y, self.num_classes), z, w))


register("m2w", M2W, "tutorial: M2 with a second continuous latent w (examples/extend_m2.py)", like="m2")

SMOKE = ["--labels", "20", "--unlabelled", "100", "--batch-size", "20", "--hidden", "16", "--decoder-hidden", "16",
         "--classifier", "mlp", "--classifier-hidden", "16", "--z-dim", "2", "--epochs", "1", "--quiet"]


def cli(*args):
    """Run pyross's command line in this process (where ``m2w`` is registered)."""
    pyross_cli([str(a) for a in args])


def print_trace_shapes(net, x):
    """The shapes of every sample site in the unlabelled bound's model trace, ``y`` enumerated
    as the objective does it (the parameters left out)."""
    guide = poutine.enum(config_enumerate(net.guide, "parallel"), first_available_dim=-2)
    guide_trace = poutine.trace(poutine.block(guide, hide_types=["param"])).get_trace(x)
    model = poutine.block(poutine.replay(net.model, trace=guide_trace), hide_types=["param"])
    model_trace = poutine.trace(model).get_trace(x)
    model_trace.compute_log_prob()
    print(f"model trace of {len(x)} unlabelled images:\n{model_trace.format_shapes()}")


@torch.no_grad()
def w_grid(net, steps=9, extent=2.5):
    """Every class (rows) over a sweep of w's first dimension (columns), z = 0: the images
    ``(K, steps, D)`` and the values of ``w[0]``."""
    w = torch.zeros(steps, net.w_dim)
    w[:, 0] = torch.linspace(-extent, extent, steps)
    classes = torch.arange(net.num_classes).reshape(-1, 1)
    return net.decode(classes, torch.zeros(net.z_dim), w), w[:, 0]  # by broadcasting


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="runs/example-m2w")
    parser.add_argument("--data-dir", help="MNIST in torchvision's raw layout (default: as pyross finds it)")
    parser.add_argument("--smoke", action="store_true", help="tiny networks, one short epoch")
    args = parser.parse_args()
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    options = SMOKE if args.smoke else ["--epochs", args.epochs, "--z-dim", "8"]

    # 1. the unchanged command line trains the new model, and writes the usual run folder
    cli("fit", "m2w", "--out", args.out, "--overwrite", "--device", "cpu", *data, *options)
    # 2. the usual figures work on it: y and z as in M2, w at its prior mean
    cli("figure", "style-transfer", args.out, "--device", "cpu", *data)
    # 3. the new site in a Pyro trace, and a picture of what w learnt
    net, names, shape = load_trained(Run.open(args.out), "cpu")
    print_trace_shapes(net, torch.zeros(3, net.x_dim))
    grid, values = w_grid(net)
    out = os.path.join(args.out, "w-grid.png")
    plot_image_grid(grid.reshape(*grid.shape[:2], *shape), out, title="m2w: each class over w[0], z = 0",
                    rows=list(names), cols=[f"{v:.1f}" for v in values], row_title="class y", col_title="w[0]")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
