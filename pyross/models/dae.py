r"""A denoising autoencoder (Vincent et al. 2008): a representation baseline for the VAE.

Plain PyTorch, not a probabilistic model: a code :math:`h = f(\tilde x)` of a corrupted image
:math:`\tilde x = x + \epsilon,\ \epsilon \sim \mathcal{N}(0, \texttt{noise}^2 I)`, and a decoder
trained to give back the clean image, with the loss (summed over pixels)

.. math::

    \ell(x) = \mathrm{BCE}\bigl(x,\ \sigma(g(f(\tilde x)))\bigr).

The encoder and decoder have the shapes of the VAE's (:class:`~pyross.models.VAE`) with the
same options, except that the encoder outputs the code only, not a location and a scale.
"""
import torch
from torch import nn
from torch.nn import functional as F

from ..nets import MLP


class DAE(nn.Module):
    """Denoising autoencoder.

    :param int x_dim: pixels per flattened image.
    :param int z_dim: size of the code.
    :param hidden: hidden sizes of the encoder.
    :param decoder_hidden: hidden sizes of the decoder (default: ``hidden`` reversed).
    :param str activation: hidden activation.
    :param str batch_norm: ``"all"`` batch-normalises the hidden layers.
    :param float noise: standard deviation of the Gaussian corruption.
    """

    #: the DAE reads grey levels, not binarised images
    binary_data = False

    def __init__(self, x_dim=784, z_dim=16, hidden=(500, 500), decoder_hidden=None, activation="softplus",
                 batch_norm="none", noise=0.3):
        super().__init__()
        self.noise = noise
        norm = batch_norm == "all"
        self.encoder = MLP([x_dim], hidden, z_dim, activation, norm)
        self.decoder = MLP([z_dim], decoder_hidden or tuple(reversed(hidden)), x_dim, activation, norm)

    def loss(self, x):
        """Mean over the batch of the reconstruction loss of corrupted ``x``."""
        corrupted = x + self.noise * torch.randn_like(x)
        logits = self.decoder(self.encoder(corrupted))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)

    def encode(self, x):
        """The representation of (clean) images ``x``: the code."""
        return self.encoder(x)

    def decode(self, z):
        """The image a code decodes to, in [0, 1]."""
        return torch.sigmoid(self.decoder(z))
