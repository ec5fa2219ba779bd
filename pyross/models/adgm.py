r"""ADGM: the auxiliary deep generative model of Maaløe et al. (2016), section 3.

M2's generative story with one more latent site, ``a``, which the image, the class and the
style generate (model, plate ``data``):

.. math::

    y &\sim \mathrm{Cat}(y \mid \tfrac{1}{K}, \dots, \tfrac{1}{K})                    && \text{site } \texttt{y} \\
    z &\sim \mathcal{N}(z \mid 0, I)                                                  && \text{site } \texttt{z} \\
    x &\sim \mathrm{Bernoulli}(x \mid \mathrm{decoder}_\theta(y, z))                  && \text{site } \texttt{x} \\
    a &\sim \mathcal{N}(a \mid \mu_\theta(x, y, z), \mathrm{diag}\,\sigma^2_\theta(x, y, z)) && \text{site } \texttt{a}

Since :math:`\int p_\theta(a \mid x, y, z)\, da = 1`, the model of :math:`(x, y, z)` is M2's.
What changes is the guide, where ``a`` comes first and everything else reads it:

.. math::

    q_\phi(a \mid x) &= \mathcal{N}(a \mid \mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))   && \text{site } \texttt{a} \\
    q_\phi(y \mid a, x) &= \mathrm{Cat}(y \mid \mathrm{classifier}_\phi(a, x))            && \text{site } \texttt{y} \text{ (unlabelled only)} \\
    q_\phi(z \mid a, x, y) &= \mathcal{N}(z \mid \mu_\phi(a, x, y), \mathrm{diag}\,\sigma^2_\phi(a, x, y)) && \text{site } \texttt{z}

The marginal :math:`q(y, z \mid x) = \int q(a \mid x)\, q(y \mid a, x)\, q(z \mid a, x, y)\, da`
is a mixture, more expressive than M2's, and the classifier
:math:`q(y \mid x) = \mathbb{E}_{q(a \mid x)}[q(y \mid a, x)]` is a continuous mixture too.

It trains with M2's objective unchanged (:class:`~pyross.objectives.SemiSupervisedELBO`):
``a`` is drawn once per image, before ``y``, so in a trace of the unlabelled bound
``a`` has shape ``(B, a_dim)`` while ``z`` and p(a | x, y, z) have ``(K, B, ·)``, and
``TraceEnum_ELBO`` sums the classes exactly, as for M2. The classifier term
:math:`-\log q(y \mid a, x)` is taken at one draw of ``a`` in training (the authors' one sample);
a new image is classified at the mean of :math:`q(a \mid x)` (the authors average 100 draws).
"""
import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ..fastmath import Bernoulli
from ..nets import MLP, GaussianMLP, one_hot


class ADGM(nn.Module):
    """Maaløe et al.'s auxiliary deep generative model: sites ``y``, ``z``, ``x`` and ``a``.

    :param int x_dim: pixels per flattened image (binarised: Bernoulli likelihood).
    :param int num_classes: K, the number of classes.
    :param int z_dim: dimension of the style ``z``.
    :param int a_dim: dimension of the auxiliary ``a``.
    :param hidden: hidden layer sizes of every network, e.g. ``(500, 500)``.
    :param str activation: hidden activation (``"relu"`` as in the authors' code).
    :param str batch_norm: batch-normalise the hidden layers of ``"all"`` networks, of the
        ``"classifier"`` only, or of ``"none"`` (as in the authors' code).
    :param classifier_hidden: hidden sizes of q(y | a, x), if not ``hidden``.
    :param decoder_hidden: hidden sizes of p(x | y, z) and p(a | x, y, z), if not ``hidden``.
    """

    #: the sub-networks that classify a new image: q(a | x) and q(y | a, x)
    classification_parts = ("encoder_a", "encoder_y")
    #: the model reads binarised images
    binary_data = True

    def __init__(self, x_dim=784, num_classes=10, z_dim=100, a_dim=100, hidden=(500, 500), activation="relu",
                 batch_norm="none", classifier_hidden=None, decoder_hidden=None):
        super().__init__()
        self.x_dim, self.num_classes, self.z_dim, self.a_dim = x_dim, num_classes, z_dim, a_dim
        norm_all, norm_classifier = batch_norm == "all", batch_norm in ("all", "classifier")
        decoder_hidden = decoder_hidden or hidden
        # p_theta(x | y, z): Bernoulli logits
        self.decoder = MLP([num_classes, z_dim], decoder_hidden, x_dim, activation, norm_all)
        # p_theta(a | x, y, z): Gaussian location and scale
        self.decoder_a = GaussianMLP([x_dim, num_classes, z_dim], decoder_hidden, a_dim, activation, norm_all)
        # q_phi(a | x)
        self.encoder_a = GaussianMLP([x_dim], hidden, a_dim, activation, norm_all)
        # q_phi(y | a, x): class logits
        self.encoder_y = MLP([x_dim, a_dim], classifier_hidden or hidden, num_classes, activation, norm_classifier)
        # q_phi(z | a, x, y)
        self.encoder_z = GaussianMLP([x_dim, num_classes, a_dim], hidden, z_dim, activation, norm_all)

    def model(self, x, y=None):
        """p(y) p(z) p(x | y, z) p(a | x, y, z); ``y`` is observed when given.

        :param torch.Tensor x: binary images, ``(B, x_dim)``.
        :param torch.Tensor y: labels ``(B,)``, or ``None`` for unlabelled images.
        """
        pyro.module("adgm", self)
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Categorical(logits=x.new_zeros(self.num_classes)), obs=y)
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.z_dim), 1.0).to_event(1))
            y_hot = one_hot(y, self.num_classes)
            pyro.sample("x", Bernoulli(logits=self.decoder(y_hot, z), validate_args=False).to_event(1), obs=x)
            pyro.sample("a", dist.Normal(*self.decoder_a(x, y_hot, z)).to_event(1))

    def guide(self, x, y=None):
        """q(a | x) q(y | a, x) q(z | a, x, y); conditions on ``y`` when given.

        :param torch.Tensor x: binary images, ``(B, x_dim)``.
        :param torch.Tensor y: labels ``(B,)``, or ``None``: then ``y`` is drawn from
            q(y | a, x) (enumerated by the objective).
        """
        pyro.module("adgm", self)
        with pyro.plate("data", x.shape[0]):
            a = pyro.sample("a", dist.Normal(*self.encoder_a(x)).to_event(1))
            if y is None:
                y = pyro.sample("y", dist.Categorical(logits=self.encoder_y(x, a)))
            pyro.sample("z", dist.Normal(*self.encoder_z(x, one_hot(y, self.num_classes), a)).to_event(1))

    def auxiliary(self, x):
        """``a`` for the classifier: a draw from q(a | x) in training, its mean otherwise."""
        loc, scale = self.encoder_a(x)
        return loc + scale * torch.randn_like(loc) if self.training else loc

    def classifier(self, x):
        """Logits of q(y | a, x) at :meth:`auxiliary` ``(x)``: the auxiliary loss and prediction."""
        return self.encoder_y(x, self.auxiliary(x))

    def encode(self, x, y):
        """The style of images ``x`` of classes ``y``: the means of q(z | a, x, y) at the mean of q(a | x)."""
        return self.encoder_z(x, one_hot(y, self.num_classes), self.encoder_a(x)[0])[0]

    def decode(self, y, z):
        """The mean of p(x | y, z): an image of class(es) ``y`` in style(s) ``z`` (they broadcast)."""
        return torch.sigmoid(self.decoder(one_hot(y, self.num_classes), z))
