r"""M1+M2: Kingma et al.'s stacked model (section 3.2.3).

.. math::

    p_\theta(x, y, z_1, z_2) = p(y)\, p(z_2)\, p_\theta(z_1 \mid y, z_2)\, p_\theta(x \mid z_1)

M1, a :class:`~pyross.models.VAE`, is trained first and gives
:math:`p_\theta(x \mid z_1)` and :math:`q_\phi(z_1 \mid x)`; it then stays frozen
(:class:`~pyross.models.vae.FrozenVAE`). M2 (:class:`~pyross.models.M2`, the same code,
with ``likelihood="gaussian"``) is trained on the code :math:`z_1` instead of the pixels:

.. math::

    y &\sim \mathrm{Cat}(1/K)                                             && \text{site } \texttt{y} \\
    z_2 &\sim \mathcal{N}(0, I)                                            && \text{site } \texttt{z2} \\
    z_1 &\sim \mathcal{N}(\mu_\theta(y, z_2), \mathrm{diag}\,\sigma^2_\theta(y, z_2)) && \text{site } \texttt{z1} \text{ (observed)}

with the guide :math:`q_\phi(y \mid z_1)\, q_\phi(z_2 \mid z_1, y)` and ``y`` enumerated for
unlabelled images, exactly as M2 on pixels. Each time an image is used, :meth:`M1M2.prepare`
draws a fresh :math:`z_1 \sim q_\phi(z_1 \mid x)` (not the mean): the M2 part sees a new sample
of the code every epoch. Of which image, ``z1_from`` says:

* ``"binarised"``: of a fresh binarisation of the image, as the VAE was trained; the frozen
  encoder runs at every step.
* ``"grey"``: of the grey-level image itself, as in the authors' code (``learn_yz_x_ss.py``
  extracts the mean and log-variance of :math:`q_\phi(z_1 \mid x)` of every training image
  once, then draws :math:`z_1` from them at each step). The encoder then runs once per image,
  before training (:meth:`M1M2.features`), and a step only draws the noise. This matches
  the classifier, which reads the grey-level images too.

A new image is classified through :math:`x \to \mathbb{E}[q_\phi(z_1 \mid x)] \to q_\phi(y \mid z_1)`.

**Active units.** A VAE leaves many units of :math:`z_1` unused: their posterior is the prior
whatever the image, so a draw of them is pure noise. As in the authors' code, M2 can model only
the *active* units (:func:`active_units`; ``units``), those whose mean
:math:`\mathbb{E}_{q_\phi(z_1 \mid x)}[z_{1,k}]` varies over the images (Burda et al. 2016):

.. math::

    \mathrm{std}_x\big(\mathbb{E}_{q_\phi(z_1 \mid x)}[z_{1,k}]\big) > 0.1.
"""
import torch
from torch import nn

from ..data import binarize
from .m2 import M2
from .vae import FrozenVAE

#: the values of ``z1_from``: which image's q(z1 | x) a training step draws z1 from
Z1_FROM = ("binarised", "grey")


class StackedM2(M2):
    """M2 with its sites named as in the stacked model: ``z1`` observed, ``z2`` latent."""

    x_site, z_site = "z1", "z2"


class M1M2(nn.Module):
    """The stacked model: a frozen VAE (M1) and an M2 on its code.

    :param dict vae: the VAE's options (:class:`~pyross.models.VAE`'s arguments but ``x_dim``);
        its ``z_dim`` is the size of :math:`z_1`.
    :param int z_dim: size of :math:`z_2`.
    :param units: the indices of the units of :math:`z_1` that M2 models (see
        :func:`active_units`); ``None``: all of them.
    :param str z1_from: ``"binarised"`` (z1 drawn from q(z1 | x) of a fresh binarisation of the
        image) or ``"grey"`` (of the grey-level image, its statistics computed once, as in the
        authors' code); see the module's docstring.

    The other parameters are those of the M2 part (:class:`~pyross.models.M2`), whose
    classifier is an MLP on :math:`z_1`.
    """

    #: the sub-networks that classify a new image: q(z1 | x) and q(y | z1)
    classification_parts = ("vae.encoder", "m2.encoder_y")
    #: :meth:`prepare` binarises as the VAE needs
    binary_data = False

    def __init__(self, x_dim=784, num_classes=10, vae=None, z_dim=50, hidden=(500,), activation="softplus",
                 batch_norm="none", classifier_hidden=None, decoder_hidden=None, units=None, z1_from="binarised"):
        super().__init__()
        if z1_from not in Z1_FROM:
            raise ValueError(f"z1_from must be one of {Z1_FROM}, not {z1_from!r}")
        self.z1_from = z1_from
        self.vae = FrozenVAE(x_dim, **(vae or {}))
        if units is not None and not (units and all(0 <= k < self.vae.z_dim for k in units)):
            raise ValueError(f"units must be indices of z1's {self.vae.z_dim} units, at least one, not {units}")
        self.units = None if units is None else list(units)
        z1_dim = self.vae.z_dim if units is None else len(self.units)
        self.m2 = StackedM2(z1_dim, num_classes, z_dim, hidden, activation, batch_norm, classifier_hidden,
                            decoder_hidden, classifier="mlp", likelihood="gaussian")

    def _kept(self, z1):
        """The units of ``z1`` that M2 models."""
        return z1 if self.units is None else z1[:, self.units]

    @property
    def fixed_features(self):
        """Whether training reads :meth:`features` of the images, computed once, instead of the
        images (``z1_from="grey"``)."""
        return self.z1_from == "grey"

    @torch.no_grad()
    def features(self, x):
        """The mean and standard deviation of :math:`q_\\phi(z_1 \\mid x)` of grey-level images
        ``x``, of the kept units side by side: ``(B, 2 * units)``."""
        loc, scale = self.vae.encoder(x)
        return torch.cat([self._kept(loc), self._kept(scale)], 1)

    def prepare(self, x):
        """A fresh :math:`z_1 \\sim q_\\phi(z_1 \\mid x)` for each image, its kept units: ``x`` are grey
        levels (``z1_from="binarised"``: binarised here, then encoded) or their :meth:`features`
        (``"grey"``)."""
        if self.fixed_features:
            loc, scale = x.chunk(2, 1)
            return loc + scale * torch.randn_like(loc)
        return self._kept(self.vae.sample(binarize(x) if self.vae.binary_data else x))

    def model(self, z1, y=None):
        """M2's model on the code ``z1`` (from :meth:`prepare`)."""
        self.m2.model(z1, y)

    def guide(self, z1, y=None):
        """M2's guide on the code ``z1``."""
        self.m2.guide(z1, y)

    def classifier(self, x):
        """Class logits of images ``x``: q(y | z1) at the mean of q(z1 | x)."""
        return self.m2.classifier(self._kept(self.vae.encode(x)))


def active_units(means, threshold=0.1):
    """The active units of a code: those whose means vary over the images.

    :param torch.Tensor means: the means of q(z1 | x) of many images, ``(N, z1_dim)``.
    :param float threshold: the smallest standard deviation over the images of an active unit.
    :returns: the indices of the active units, a list.
    """
    return torch.nonzero(means.std(0) > threshold).flatten().tolist()
