r"""CCVAE: the characteristic-capturing VAE of Joy et al. (2021), "Capturing label
characteristics in VAEs", for a multi-class label (one characteristic per class).

The latent space is split in two, :math:`z = (z_c, z_s)`: :math:`z_c` has one dimension per
class and captures the *characteristics* of the label, :math:`z_s` (``z_dim`` dimensions)
holds the rest. Generative story (``model``), for each image (plate ``data``):

.. math::

    y &\sim p(y) = \mathrm{Cat}(\pi)  && \text{site } \texttt{y}
        \quad (\pi\text{: the label frequencies of the labelled images}) \\
    z_{c,i} &\sim p_\psi(z_{c,i} \mid y) = \mathcal{N}(\mu_{i,[y=i]}, \sigma^2_{i,[y=i]}),\ i = 1..K
        && \text{site } \texttt{z\_c} \\
    z_s &\sim \mathcal{N}(0, I)                           && \text{site } \texttt{z\_s} \\
    x &\sim p_\theta(x \mid z_c, z_s) = \mathrm{Bernoulli}(\mathrm{decoder}_\theta(z_c, z_s)) && \text{site } \texttt{x}

The conditional prior :math:`p_\psi(z_c \mid y)` is learned: for each dimension :math:`i`, one
location and one scale for "the image is of class :math:`i`" and one for "it is not".

Guide: one encoder gives :math:`q_\phi(z \mid x)` (sites ``z_c`` and ``z_s``); for an unlabelled
image the classifier :math:`q_\varphi(y \mid z_c)` gives site ``y``, in which the logit of class
:math:`i` reads only :math:`z_{c,i}`: :math:`\mathrm{logit}_i = a_i z_{c,i} + b_i`.

The objectives are in :mod:`pyross.objectives` (:class:`~pyross.objectives.CCVAEBound`): the
paper's supervised bound for labelled images, and for unlabelled images the ELBO with ``y``
inferred by :math:`q_\varphi(y \mid z_c)` and enumerated over the classes (the paper's code
samples it with a score-function gradient instead).

A new image is classified through the mean of :math:`q_\phi(z_c \mid x)`, then
:math:`q_\varphi(y \mid z_c)`.
"""
import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from ..fastmath import Bernoulli
from ..nets import MLP, ConvDecoder, ConvGaussianEncoder, GaussianMLP


class CCVAE(nn.Module):
    """CCVAE as a Pyro model/guide pair with sites ``y``, ``z_c``, ``z_s`` and ``x``.

    :param int x_dim: pixels per flattened image.
    :param int num_classes: K, the classes; ``z_c`` has K dimensions.
    :param int z_dim: dimensions of the style ``z_s``.
    :param hidden: hidden sizes of the encoder q(z | x) (the decoder's are reversed).
    :param str activation: hidden activation.
    :param tuple image_shape: ``(C, H, W)``; images of 64 pixels or more a side (CelebA) get
        convolutional networks (:class:`~pyross.nets.ConvGaussianEncoder`,
        :class:`~pyross.nets.ConvDecoder`) instead of MLPs, and ``hidden`` is not used.
    :param int k: samples of :math:`z_c` in the supervised bound's estimate of q(y | x).
    """

    #: the sub-networks that classify a new image: the encoder and q(y | z_c)
    classification_parts = ("encoder", "classifier_scale", "classifier_bias")
    binary_data = True
    #: one class per image; :class:`MultiLabelCCVAE` is the variant for binary attributes
    multilabel = False
    #: plates of the model (the objective's ``max_plate_nesting``)
    max_plate_nesting = 1

    def __init__(self, x_dim=784, num_classes=10, z_dim=16, hidden=(500,), activation="softplus", k=100,
                 image_shape=(1, 28, 28)):
        super().__init__()
        self.x_dim, self.num_classes, self.z_dim, self.k = x_dim, num_classes, z_dim, k
        if image_shape[1] >= 64:
            # q_phi(z | x), z = (z_c, z_s), and p_theta(x | z_c, z_s): convolutional
            self.encoder = ConvGaussianEncoder(image_shape, num_classes + z_dim)
            self.decoder = ConvDecoder([num_classes, z_dim], image_shape)
        else:
            # q_phi(z | x), z = (z_c, z_s)
            self.encoder = GaussianMLP([x_dim], hidden, num_classes + z_dim, activation)
            # p_theta(x | z_c, z_s)
            self.decoder = MLP([num_classes, z_dim], list(hidden)[::-1], x_dim, activation)
        # p_psi(z_c | y): row 0 for "not class i", row 1 for "class i"
        self.prior_loc = nn.Parameter(torch.stack([-torch.ones(num_classes), torch.ones(num_classes)]))
        self.prior_raw_scale = nn.Parameter(torch.zeros(2, num_classes))
        # q_varphi(y | z_c): one scale and one bias per class, each reading its own dimension
        self.classifier_scale = nn.Parameter(torch.ones(num_classes))
        self.classifier_bias = nn.Parameter(torch.zeros(num_classes))
        # p(y): the label frequencies of the labelled images (set_label_prior), uniform until set
        self.register_buffer("label_probs", torch.full((num_classes,), 1.0 / num_classes))

    def set_label_prior(self, y):
        """Make p(y) the class frequencies of the labelled images' labels ``y``."""
        counts = torch.bincount(y.long().cpu(), minlength=self.num_classes).to(self.label_probs)
        self.label_probs.copy_(counts / counts.sum())

    def characteristic_prior(self):
        r"""Locations and scales ``(2, K)`` of each :math:`z_{c,i}`: row 0 "not class :math:`i`",
        row 1 "class :math:`i`"."""
        return self.prior_loc, F.softplus(self.prior_raw_scale) + 1e-4

    def conditional_prior(self, y):
        r"""Location and scale of :math:`p_\psi(z_c \mid y)` for labels ``y`` (any shape), ``(..., K)``."""
        is_class = F.one_hot(y.long(), self.num_classes).bool()
        loc, scale = self.characteristic_prior()
        return torch.where(is_class, loc[1], loc[0]), torch.where(is_class, scale[1], scale[0])

    def classify_characteristics(self, z_c):
        r"""Logits of :math:`q_\varphi(y \mid z_c)`: class :math:`i` reads only :math:`z_{c,i}`."""
        return self.classifier_scale * z_c + self.classifier_bias

    def label_log_prob(self, logits, y):
        r""":math:`\log q_\varphi(y \mid z_c)` of each image, from the logits of :meth:`classify_characteristics`."""
        return dist.Categorical(logits=logits).log_prob(y)

    @staticmethod
    def per_image(log_prob):
        """A site's log-probability summed to one number per image."""
        return log_prob

    def model(self, x, y=None):
        """p(x, y, z_c, z_s) = p(y) p(z_c | y) p(z_s) p(x | z_c, z_s); ``y`` observed when given."""
        pyro.module("ccvae", self)
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Categorical(probs=self.label_probs), obs=y)
            z_c = pyro.sample("z_c", dist.Normal(*self.conditional_prior(y)).to_event(1))
            z_s = pyro.sample("z_s", dist.Normal(x.new_zeros(self.z_dim), 1.0).to_event(1))
            logits = self.decoder(z_c, z_s)  # z_c may carry the enumerated classes: they broadcast
            pyro.sample("x", Bernoulli(logits=logits, validate_args=False).to_event(1), obs=x)

    def guide(self, x, y=None):
        """q(z_c, z_s | x) and, for unlabelled images, q(y | z_c) (enumerated by the objective)."""
        pyro.module("ccvae", self)
        with pyro.plate("data", x.shape[0]):
            loc, scale = self.encoder(x)
            z_c = pyro.sample("z_c", dist.Normal(loc[..., :self.num_classes], scale[..., :self.num_classes]).to_event(1))
            pyro.sample("z_s", dist.Normal(loc[..., self.num_classes:], scale[..., self.num_classes:]).to_event(1))
            if y is None:
                pyro.sample("y", dist.Categorical(logits=self.classify_characteristics(z_c)))

    def encode(self, x):
        """Means of q(z_c | x) and q(z_s | x)."""
        loc = self.encoder(x)[0]
        return loc[..., :self.num_classes], loc[..., self.num_classes:]

    def decode(self, z_c, z_s):
        """The mean of p(x | z_c, z_s) (they broadcast)."""
        return torch.sigmoid(self.decoder(z_c, z_s))

    def classifier(self, x):
        """Logits of q(y | x) through the mean of q(z_c | x)."""
        return self.classify_characteristics(self.encode(x)[0])


class MultiLabelCCVAE(CCVAE):
    r"""CCVAE for :math:`L` binary attributes per image (labels ``(B, L)`` of 0/1, e.g. ``shapes``).

    The attributes are independent given the image's characteristics, so ``y`` and ``z_c`` sit
    in a plate over the attributes (``labels``): :math:`p(y) = \prod_i \mathrm{Bernoulli}(\pi_i)`,
    :math:`p_\psi(z_c \mid y) = \prod_i \mathcal{N}(\mu_{i,y_i}, \sigma^2_{i,y_i})` and
    :math:`q_\varphi(y \mid z_c) = \prod_i \mathrm{Bernoulli}(\sigma(a_i z_{c,i} + b_i))`. For unlabelled
    images ``TraceEnum_ELBO`` enumerates each attribute on its own inside that plate: the cost
    is 2 per attribute, not :math:`2^L`. The image plate is the second dimension from the right
    (``z_s`` and ``x`` have shape ``(B, 1, ...)`` in the traces).

    ``x`` comes after ``y`` in the model and outside the attributes' plate, so Pyro warns that
    it may depend on the enumerated ``y`` and break the plate's independence. It does not:
    ``x`` reads ``z_c``, whose value comes from the guide, drawn before ``y``. The objective
    silences that one warning; ``tests/test_ccvae.py`` checks the enumerated bound by hand.
    """

    multilabel = True
    max_plate_nesting = 2

    def set_label_prior(self, y):
        """Make p(y) the attributes' frequencies in the labelled images' labels ``y`` ``(N, L)``."""
        self.label_probs.copy_(y.float().mean(0).clamp(1e-3, 1 - 1e-3))

    def conditional_prior(self, y):
        r"""Location and scale of :math:`p_\psi(z_c \mid y)` for 0/1 attributes ``y`` ``(..., L)``."""
        loc, scale = self.characteristic_prior()
        on = y.bool()
        return torch.where(on, loc[1], loc[0]), torch.where(on, scale[1], scale[0])

    def label_log_prob(self, logits, y):
        return dist.Bernoulli(logits=logits).log_prob(y.to(logits)).sum(-1)

    @staticmethod
    def per_image(log_prob):
        return log_prob.sum(-1)  # over the attributes (y, z_c), or the plate's dimension of size 1 (z_s, x)

    def model(self, x, y=None):
        """p(x, y, z_c, z_s) with ``y`` and ``z_c`` in a plate over the attributes."""
        pyro.module("ccvae", self)
        with pyro.plate("data", x.shape[0], dim=-2):
            z_s = pyro.sample("z_s", dist.Normal(x.new_zeros(self.z_dim), 1.0).to_event(1))
            with pyro.plate("labels", self.num_classes, dim=-1):
                y = pyro.sample("y", dist.Bernoulli(probs=self.label_probs), obs=None if y is None else y.to(x))
                z_c = pyro.sample("z_c", dist.Normal(*self.conditional_prior(y)))
            logits = self.decoder(z_c, z_s.squeeze(-2)).unsqueeze(-2)
            pyro.sample("x", Bernoulli(logits=logits, validate_args=False).to_event(1), obs=x.unsqueeze(-2))

    def guide(self, x, y=None):
        """q(z_c, z_s | x) and, for unlabelled images, q(y_i | z_c,i) for each attribute (enumerated)."""
        pyro.module("ccvae", self)
        k = self.num_classes
        with pyro.plate("data", x.shape[0], dim=-2):
            loc, scale = self.encoder(x)
            pyro.sample("z_s", dist.Normal(loc[..., k:].unsqueeze(-2), scale[..., k:].unsqueeze(-2)).to_event(1))
            with pyro.plate("labels", k, dim=-1):
                z_c = pyro.sample("z_c", dist.Normal(loc[..., :k], scale[..., :k]))
                if y is None:
                    pyro.sample("y", dist.Bernoulli(logits=self.classify_characteristics(z_c)))


CCVAE.multilabel_variant = MultiLabelCCVAE
