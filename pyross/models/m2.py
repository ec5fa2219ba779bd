r"""M2: the generative semi-supervised model of Kingma et al. (2014), section 3.1.2.

Generative story (``model``), for each image in the batch (plate ``data``):

.. math::

    y &\sim p(y) = \mathrm{Cat}(y \mid \tfrac{1}{K}, \dots, \tfrac{1}{K})   && \text{site } \texttt{y} \\
    z &\sim p(z) = \mathcal{N}(z \mid 0, I)                              && \text{site } \texttt{z} \\
    x &\sim p_\theta(x \mid y, z) = \mathrm{Bernoulli}(x \mid \mathrm{decoder}_\theta(y, z)) && \text{site } \texttt{x}

Inference network (``guide``):

.. math::

    q_\phi(y \mid x) &= \mathrm{Cat}(y \mid \mathrm{classifier}_\phi(x))  && \text{site } \texttt{y} \text{ (unlabelled only)} \\
    q_\phi(z \mid x, y) &= \mathcal{N}(z \mid \mu_\phi(x, y), \mathrm{diag}\,\sigma^2_\phi(x, y)) && \text{site } \texttt{z}

With ``likelihood="gaussian"`` the last line is :math:`x \sim \mathcal{N}(\mu_\theta(y, z),
\mathrm{diag}\,\sigma^2_\theta(y, z))`, for real-valued data: M1+M2
(:mod:`pyross.models.m1m2`) models the code :math:`z_1` of M1 this way.

With ``y`` given, ``y`` is observed in the model and the guide conditions on it: the ELBO is
Kingma's labelled bound :math:`-\mathcal{L}(x, y)`. With ``y=None`` the guide samples ``y`` from
the classifier; the training objective (:mod:`pyross.objectives`) marks that site for
parallel enumeration, so ``TraceEnum_ELBO`` sums over all classes exactly and yields the
unlabelled bound :math:`-\mathcal{U}(x) = \sum_y q(y|x)(-\mathcal{L}(x,y)) + \mathcal{H}(q(y|x))`.
"""
import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ..fastmath import Bernoulli
from ..nets import MLP, GaussianMLP, make_classifier, one_hot


class M2(nn.Module):
    """Kingma et al.'s M2 as a Pyro model/guide pair with sites ``y``, ``z``, ``x``.

    :param int x_dim: pixels per flattened image.
    :param int num_classes: K, the number of classes.
    :param int z_dim: dimension of the style latent ``z``.
    :param hidden: hidden layer sizes of every network, e.g. ``(500,)``.
    :param classifier_hidden: hidden sizes of the classifier q(y | x), if not ``hidden``.
    :param decoder_hidden: hidden sizes of the decoder p(x | y, z), if not ``hidden``.
    :param str classifier: ``"mlp"`` (permutation-invariant, as in the paper) or ``"cnn"``
        (a small convolutional network, :class:`~pyross.nets.ConvClassifier`) for q(y | x).
    :param tuple image_shape: ``(channels, height, width)``, used by the ``"cnn"`` classifier.
    :param str activation: hidden activation (``"softplus"`` as in the paper, or ``"relu"``).
    :param str batch_norm: batch-normalise the hidden layers of ``"all"`` networks (as in the
        seed report), of the ``"classifier"`` only, or of ``"none"``. In the decoder, batch norm
        makes p(x | y, z) depend on the other images and the other enumerated classes of the batch.
    :param str likelihood: p(x | y, z) is ``"bernoulli"`` (binary images) or ``"gaussian"``
        with a learned diagonal scale (real vectors: M1+M2 models the M1 code z1 this way).
    """

    #: the sub-networks that classify a new image: q(y | x)
    classification_parts = ("encoder_y",)
    #: names of the observed and the continuous latent sites (M1+M2 renames them z1 and z2)
    x_site, z_site = "x", "z"

    def __init__(self, x_dim=784, num_classes=10, z_dim=50, hidden=(500,),
                 activation="softplus", batch_norm="none", classifier_hidden=None, decoder_hidden=None,
                 classifier="mlp", image_shape=(1, 28, 28), likelihood="bernoulli"):
        super().__init__()
        self.x_dim, self.num_classes, self.z_dim, self.likelihood = x_dim, num_classes, z_dim, likelihood
        norm_all, norm_classifier = batch_norm == "all", batch_norm in ("all", "classifier")
        # p_theta(x | y, z): Bernoulli logits, or Gaussian location and scale, from (y, z)
        decoder = MLP if likelihood == "bernoulli" else GaussianMLP
        self.decoder = decoder([num_classes, z_dim], decoder_hidden or hidden, x_dim, activation, norm_all)
        # q_phi(z | x, y): Gaussian location and scale from (x, y)
        self.encoder_z = GaussianMLP([x_dim, num_classes], hidden, z_dim, activation, norm_all)
        # q_phi(y | x): class logits from x
        self.encoder_y = make_classifier(classifier, x_dim, image_shape, classifier_hidden or hidden, num_classes,
                                         activation, norm_classifier)

    @property
    def binary_data(self):
        """Whether the model wants binarised images (Bernoulli likelihood)."""
        return self.likelihood == "bernoulli"

    def model(self, x, y=None):
        """p(x, y, z) = p(y) p(z) p(x | y, z); ``y`` is observed when given.

        :param torch.Tensor x: binary images, ``(B, x_dim)``.
        :param torch.Tensor y: labels ``(B,)``, or ``None`` for unlabelled images.
        """
        pyro.module("m2", self)
        with pyro.plate("data", x.shape[0]):
            prior_y = x.new_zeros(self.num_classes)  # uniform: equal logits
            y = pyro.sample("y", dist.Categorical(logits=prior_y), obs=y)
            z = pyro.sample(self.z_site, dist.Normal(x.new_zeros(self.z_dim), 1.0).to_event(1))
            out = self.decoder(one_hot(y, self.num_classes), z)
            if self.likelihood == "bernoulli":
                px = Bernoulli(logits=out, validate_args=False)
            else:
                px = dist.Normal(*out)
            pyro.sample(self.x_site, px.to_event(1), obs=x)

    def guide(self, x, y=None):
        """q(y, z | x) = q(y | x) q(z | x, y); conditions on ``y`` when given.

        :param torch.Tensor x: binary images, ``(B, x_dim)``.
        :param torch.Tensor y: labels ``(B,)``, or ``None``: then ``y`` is drawn from
            q(y | x) (enumerated by the objective).
        """
        pyro.module("m2", self)
        with pyro.plate("data", x.shape[0]):
            if y is None:
                y = pyro.sample("y", dist.Categorical(logits=self.encoder_y(x)))
            loc, scale = self.encoder_z(x, one_hot(y, self.num_classes))
            pyro.sample(self.z_site, dist.Normal(loc, scale).to_event(1))

    def classifier(self, x):
        """Logits of q(y | x): the classifier used for the auxiliary loss and for prediction."""
        return self.encoder_y(x)

    def encode(self, x, y):
        """The style of images ``x`` of classes ``y``: the means of q(z | x, y)."""
        return self.encoder_z(x, one_hot(y, self.num_classes))[0]

    def decode(self, y, z):
        """The mean of p(x | y, z): an image of class(es) ``y`` in style(s) ``z`` (they broadcast)."""
        out = self.decoder(one_hot(y, self.num_classes), z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out[0]
