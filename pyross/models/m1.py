r"""M1: Kingma et al.'s latent-feature discriminative model (section 3.1.1).

Two steps, never mixed:

1. a :class:`~pyross.models.VAE` learns :math:`q_\phi(z \mid x)` from all training images,
   without labels;
2. a classifier learns :math:`p(y \mid \mu_\phi(x))` on the latent means of the labelled images,
   with the encoder **frozen**: its weights and its batch-norm statistics stay as step 1 left
   them (:attr:`M1.trainable` is the head alone, and the VAE is kept in ``eval`` mode).

The head is an MLP trained by SVI like FF (a :class:`~pyross.models.ff.LabelModel` with the
observed site ``y``), or a scikit-learn classifier (``svm``, ``rf``, ``logreg``) fitted in one
call (:meth:`M1.fit_estimator`) and saved inside the checkpoint.
"""
import torch

from ..estimators import class_scores, fit, make_estimator
from ..nets import MLP
from .ff import LabelModel
from .vae import FrozenVAE

#: heads fitted by scikit-learn rather than by SVI
SKLEARN_HEADS = ("svm", "rf", "logreg")


class M1(LabelModel):
    """VAE encoder (frozen) → latent means → classifier.

    :param classifier: ``"mlp"`` (trained by SVI) or one of :data:`SKLEARN_HEADS`.
    :param classifier_hidden: hidden sizes of the MLP head.

    The other parameters are the :class:`~pyross.models.VAE`'s.
    """

    pyro_name = "m1"
    #: the sub-networks that classify a new image: the encoder q(z | x) and the head
    classification_parts = ("vae.encoder", "head")

    def __init__(self, x_dim=784, num_classes=10, z_dim=50, hidden=(500, 500), decoder_hidden=None,
                 activation="softplus", batch_norm="none", likelihood="bernoulli", sigma=0.1, classifier="mlp",
                 classifier_hidden=(500,)):
        super().__init__()
        self.vae = FrozenVAE(x_dim, z_dim, hidden, decoder_hidden, activation, batch_norm, likelihood, sigma)
        self.kind = classifier
        self.head = None if classifier in SKLEARN_HEADS else MLP(
            [z_dim], classifier_hidden, num_classes, activation, batch_norm != "none")
        self.estimator = None

    @property
    def binary_data(self):
        """Images as the VAE saw them: binarised for the Bernoulli likelihood."""
        return self.vae.binary_data

    @property
    def trainable(self):
        """The head only: the encoder is frozen."""
        return self.head

    def features(self, x):
        """Latent means :math:`\\mu_\\phi(x)`, without gradient."""
        return self.vae.encode(x)

    def classifier(self, x):
        """Class logits of images ``x`` (for a scikit-learn head: :func:`~pyross.estimators.class_scores`)."""
        z = self.features(x)
        if self.head is not None:
            return self.head(z)
        if self.estimator is None:
            raise RuntimeError("the scikit-learn head is not fitted: call fit_estimator first")
        return torch.as_tensor(class_scores(self.estimator, z.cpu().numpy()), dtype=z.dtype, device=z.device)

    def fit_estimator(self, x, y, seed=0):
        """Fit the scikit-learn head on the latent means of the labelled images ``x``, with
        random state ``seed``."""
        self.estimator = fit(make_estimator(self.kind, seed), self.features(x).cpu().numpy(), y.cpu().numpy())

    def get_extra_state(self):
        """The fitted scikit-learn head travels in the ``state_dict`` (and so in checkpoints)."""
        return {"estimator": self.estimator}

    def set_extra_state(self, state):
        self.estimator = state["estimator"]
