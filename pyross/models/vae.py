r"""The variational autoencoder (Kingma & Welling 2014), the representation learner of M1.

Generative story (``model``), for each image (plate ``data``):

.. math::

    z &\sim p(z) = \mathcal{N}(0, I)                                            && \text{site } \texttt{z} \\
    x &\sim p_\theta(x \mid z) = \mathrm{Bernoulli}(x \mid \sigma(\mathrm{decoder}_\theta(z)))
        \ \text{or}\ \mathcal{N}(x \mid \sigma(\mathrm{decoder}_\theta(z)), s^2 I)  && \text{site } \texttt{x}

Guide: :math:`q_\phi(z \mid x) = \mathcal{N}(z \mid \mu_\phi(x), \mathrm{diag}\,\sigma_\phi^2(x))`, site ``z``.

**Scale parameterisation.** The encoder's last layer has :math:`2 \times` ``z_dim`` unconstrained
outputs; the second half becomes the standard deviation through a softplus,
:math:`\sigma = \log(1 + e^{h}) + 10^{-4}`. A network cannot output a positive number
directly, so it outputs something unconstrained and a fixed map makes it positive. The classic
choice is the log-variance, :math:`\sigma = \exp(h / 2)`: it also works, but the exponential
grows fast, so one large activation early in training gives a huge :math:`\sigma` and a
NaN; the softplus grows linearly and its gradient never vanishes or explodes.

**Likelihood.** ``"bernoulli"`` for binarised images (the trainer binarises each batch
afresh); ``"gaussian"`` for grey levels in [0, 1], with a fixed standard deviation
:math:`s` = ``sigma`` (default 0.1, a tenth of the pixel range: small enough that the
reconstruction term dominates the KL term, so the latent is used; with :math:`s = 1` the
decoder can explain every image as noise around the mean image).

**KL in closed form.** Prior and guide are Gaussians, so the objective
(:class:`pyross.objectives.UnsupervisedELBO`) uses ``TraceMeanField_ELBO``, which replaces the
Monte Carlo estimate of :math:`\mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z))` by
:math:`\tfrac12 \sum_k (\mu_k^2 + \sigma_k^2 - \log \sigma_k^2 - 1)`.
"""
import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ..fastmath import Bernoulli
from ..nets import MLP, GaussianMLP

LIKELIHOODS = ("bernoulli", "gaussian")


class VAE(nn.Module):
    """A VAE as a Pyro model/guide pair with sites ``z`` and ``x``.

    :param int x_dim: pixels per flattened image.
    :param int z_dim: dimension of ``z``.
    :param hidden: hidden sizes of the encoder q(z | x), e.g. ``(500, 500)``.
    :param decoder_hidden: hidden sizes of the decoder p(x | z) (default: ``hidden`` reversed).
    :param str activation: hidden activation.
    :param str batch_norm: ``"all"`` batch-normalises the hidden layers, ``"none"`` (or
        ``"classifier"``: a VAE has no classifier) does not.
    :param str likelihood: ``"bernoulli"`` or ``"gaussian"``.
    :param float sigma: standard deviation of the Gaussian likelihood.
    """

    def __init__(self, x_dim=784, z_dim=2, hidden=(500, 500), decoder_hidden=None, activation="softplus",
                 batch_norm="none", likelihood="bernoulli", sigma=0.1):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, not {likelihood!r}")
        self.z_dim, self.likelihood, self.sigma = z_dim, likelihood, sigma
        norm = batch_norm == "all"
        self.encoder = GaussianMLP([x_dim], hidden, z_dim, activation, norm)
        self.decoder = MLP([z_dim], decoder_hidden or tuple(reversed(hidden)), x_dim, activation, norm)

    @property
    def binary_data(self):
        """Whether the model wants binarised images (Bernoulli likelihood)."""
        return self.likelihood == "bernoulli"

    def model(self, x):
        """p(x, z) = p(z) p(x | z).

        :param torch.Tensor x: images ``(B, x_dim)``, binary for the Bernoulli likelihood.
        """
        pyro.module("vae", self)
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.z_dim), 1.0).to_event(1))
            logits = self.decoder(z)
            if self.likelihood == "bernoulli":
                px = Bernoulli(logits=logits, validate_args=False)
            else:
                px = dist.Normal(torch.sigmoid(logits), self.sigma)
            pyro.sample("x", px.to_event(1), obs=x)

    def guide(self, x):
        """q(z | x)."""
        pyro.module("vae", self)
        with pyro.plate("data", x.shape[0]):
            loc, scale = self.encoder(x)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def encode(self, x):
        """The representation of images ``x``: the means of q(z | x)."""
        return self.encoder(x)[0]

    def decode(self, z):
        """The mean image of p(x | z), in [0, 1]."""
        return torch.sigmoid(self.decoder(z))


class FrozenVAE(VAE):
    """A trained VAE used as a fixed feature extractor (by M1 and M1+M2): no gradient reaches
    its weights, and it stays in ``eval`` mode whatever mode its owner is put in, so its
    batch-norm statistics do not move either. Same weights and ``state_dict`` keys as :class:`VAE`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode=True):
        """Stay in ``eval`` mode."""
        return super().train(False)

    @torch.no_grad()
    def encode(self, x):
        """The means of q(z | x), without gradient."""
        return super().encode(x)

    @torch.no_grad()
    def sample(self, x):
        """A fresh draw z ~ q(z | x), without gradient."""
        loc, scale = self.encoder(x)
        return loc + scale * torch.randn_like(loc)
