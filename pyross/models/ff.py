r"""FF: the feed-forward baseline classifier, and the base of every model that only classifies.

As a Pyro model it has one site and nothing latent:

.. math::

    y \sim p_\phi(y \mid x) = \mathrm{Cat}(y \mid \mathrm{classifier}_\phi(x)) \qquad \text{site } \texttt{y} \text{ (observed)}

so its ELBO, with an empty guide, is exactly the log-likelihood :math:`\log p_\phi(y \mid x)`:
training it is training the classifier with the cross-entropy loss, on labelled images only.
"""
import pyro
import pyro.distributions as dist
from torch import nn

from ..nets import make_classifier


class LabelModel(nn.Module):
    """A model p(y | x) with the single observed site ``y``; subclasses define
    :meth:`classifier` and :attr:`trainable`, the module whose weights training changes."""

    #: prefix of the Pyro parameter names
    pyro_name = "classifier"
    #: the sub-networks that classify a new image (all of them)
    classification_parts = ("",)

    @property
    def trainable(self):
        """The module registered with Pyro, so the one the optimiser steps."""
        return self

    def model(self, x, y):
        """p(y | x), ``y`` observed.

        :param torch.Tensor x: images ``(B, x_dim)``.
        :param torch.Tensor y: labels ``(B,)``.
        """
        pyro.module(self.pyro_name, self.trainable)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("y", dist.Categorical(logits=self.classifier(x)), obs=y)

    def guide(self, x, y):
        """Empty: nothing is latent."""


class FF(LabelModel):
    """The feed-forward baseline: a classifier trained on the labelled images alone.

    Its network is built exactly as M2's q(y | x) (:func:`~pyross.nets.make_classifier`), so
    with the same options FF and M2 have the same classification parameters (see ``pyross params``).

    :param str classifier: ``"mlp"`` or ``"cnn"``.
    :param classifier_hidden: hidden layer sizes, e.g. ``(500, 250)`` for seed 000's 784-500-250-10.
    :param str batch_norm: ``"none"`` or (``"classifier"``, ``"all"``) to batch-normalise.
    """

    pyro_name = "ff"
    #: trained on binarised images, as M2's classifier is
    binary_data = True

    def __init__(self, x_dim=784, num_classes=10, image_shape=(1, 28, 28), classifier="mlp",
                 classifier_hidden=(500, 250), activation="relu", batch_norm="none"):
        super().__init__()
        self.net = make_classifier(classifier, x_dim, image_shape, classifier_hidden, num_classes, activation,
                                   batch_norm != "none")

    def classifier(self, x):
        """Class logits of images ``x``."""
        return self.net(x)


class MultiLabelFF(FF):
    """FF for binary attributes (labels ``(B, L)`` of 0/1): one Bernoulli per attribute,
    p(y | x) = prod_i Bernoulli(y_i | sigmoid(logit_i(x))). The plain classifier that reads
    CCVAE's interventions on ``shapes`` (``pyross intervention-score``)."""

    multilabel = True

    def model(self, x, y):
        """p(y | x) for 0/1 attributes ``y`` ``(B, L)``, observed."""
        pyro.module(self.pyro_name, self.trainable)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("y", dist.Bernoulli(logits=self.classifier(x)).to_event(1), obs=y.to(x))


FF.multilabel_variant = MultiLabelFF
