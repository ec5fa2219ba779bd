r"""Training objectives.

Kingma et al.'s semi-supervised objective (eq. 9 of the paper) is

.. math::

    \mathcal{J}^\alpha = \sum_{(x,y)\in\text{labelled}} \mathcal{L}(x,y)
                       + \sum_{x\in\text{unlabelled}} \mathcal{U}(x)
                       + \alpha N\, \mathbb{E}_{\text{labelled}}\!\left[-\log q_\phi(y \mid x)\right],

with :math:`-\mathcal{L}` and :math:`-\mathcal{U}` the labelled and unlabelled ELBOs and
:math:`N` the number of training images. ``--alpha 0.1`` is the paper's setting.

**The loss of one optimiser step** (:class:`SemiSupervisedELBO`) takes one labelled batch
:math:`B_l` and one unlabelled batch :math:`B_u`:

.. math::

    \ell = w_l \cdot \frac{1}{|B_l|}\sum_{B_l} \mathcal{L}(x,y)
         + \frac{1}{|B_u|}\sum_{B_u} \mathcal{U}(x)
         + \alpha \frac{N}{N_l} \cdot \frac{1}{|B_l|}\sum_{B_l} -\log q_\phi(y \mid x).

Why this scaling: the labelled examples are few (:math:`N_l = 100`) and are cycled, one
labelled batch per unlabelled batch. Kingma's classifier term, :math:`\alpha N` times a mean
over labelled images, is :math:`\alpha N / N_l` per labelled image, against a weight of 1 for
each image's bound; the last term keeps that weight per labelled image of a step (the seed
report's "joint step"), so the classifier is not starved. With 100 labels of 50,000 images
and ``alpha = 0.1`` the classifier weight is 50 per labelled image. Everything is divided by
the batch sizes so the learning rate does not depend on them.

The weight :math:`w_l` of the labelled bound (``labelled_bound``) is one of:

* ``"step"``, :math:`w_l = 1`: each step weighs a labelled image's bound like an unlabelled
  image's. Over an epoch the cycled labelled images then count :math:`N/N_l` times more
  than in :math:`\mathcal{J}^\alpha` (M2's default);
* ``"share"``, :math:`w_l = N_l/N`: the labelled bound has its share of the data, as in
  :math:`\mathcal{J}^\alpha` and the authors' code, so over an epoch every image's bound counts
  once (M1+M2's default: with ``"step"`` its M2 part memorises the 100 labelled codes).

The weight :math:`w_c` of the classifier term (``classifier_weight``) is one of:

* ``"step"``, :math:`w_c = \alpha N/N_l` (the default, written in the loss above): in each step
  a labelled image's classifier term weighs :math:`\alpha N/N_l` against an unlabelled image's
  bound, the weight :math:`\mathcal{J}^\alpha` gives it per pass. The labelled images cycle,
  :math:`N_u/N_l` times an epoch with equal batches, so over an epoch the term weighs
  :math:`N_u/N_l` times more than in :math:`\mathcal{J}^\alpha`;
* ``"pass"``, :math:`w_c = \alpha N/N_u`: the weight of :math:`\mathcal{J}^\alpha` over an epoch,
  as in the authors' code. An epoch's :math:`N_u/|B_u|` steps each read one labelled batch,
  so a labelled image's classifier term weighs :math:`w_c N_u/N_l = \alpha N/N_l` in all over
  the epoch, against 1 for an unlabelled image's bound, whatever the labelled batch size.

**Every objective** here is a Pyro loss callable with the same interface, so one trainer
serves all models: ``objective(model, guide, labelled, unlabelled)`` returns the loss of one
step, ``objective.model`` / ``objective.guide`` are what :class:`~pyro.infer.SVI` runs,
``uses_labelled`` / ``uses_unlabelled`` say which batches it reads, ``terms`` holds the last
step's terms for logging, and the unsupervised ones have ``loss(x)``, the mean loss of images
``x``, for validation. Which model trains with which objective is its recipe's business
(:mod:`pyross.recipes`).
"""
import math
import warnings

import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import JitTraceEnum_ELBO, Trace_ELBO, TraceEnum_ELBO, TraceMeanField_ELBO, config_enumerate
from pyro.poutine.messenger import Messenger
from torch.nn import functional as F

from .compiled import CompiledLoss
from .jit import PerShape
from .optim import JointAdam


#: the weights of the labelled bound in :class:`SemiSupervisedELBO`
LABELLED_BOUNDS = ("step", "share")
#: the weights of the classifier term in :class:`SemiSupervisedELBO`
CLASSIFIER_WEIGHTS = ("step", "pass")


class SemiSupervisedELBO:
    r"""Kingma's :math:`\mathcal{J}^\alpha` for one labelled and one unlabelled batch.

    An instance is a Pyro loss callable: ``SVI(model.model, objective.guide, optim,
    loss=objective)``; ``svi.step((x_l, y_l), x_u)`` then takes one optimiser step on the sum.
    The guide is wrapped in :func:`~pyro.infer.config_enumerate`, so every discrete site the
    guide samples (``y`` for unlabelled images) is enumerated in parallel, never sampled.

    :param model: a model with ``model``, ``guide`` and ``classifier`` (e.g. :class:`~pyross.models.M2`).
    :param float alpha: Kingma's :math:`\alpha` (``>= 0``).
    :param int n_labelled: :math:`N_l`, labelled training images.
    :param int n_train: :math:`N`, all training images (labelled and unlabelled).
    :param bool jit: compute both bounds with Pyro's compiled ELBOs (:mod:`pyross.jit`): the
        same bounds, computed faster once model and guide are traced (docs/performance.md).
    :param bool compile: compute the whole loss of a step with one recorded graph, compiled by
        :func:`torch.compile` (its element-wise work fused; :mod:`pyross.compiled`): the same loss up to
        rounding (docs/performance.md).
    :param str labelled_bound: the weight :math:`w_l` of the labelled bound: ``"step"`` (1) or
        ``"share"`` (:math:`N_l/N`), see :mod:`pyross.objectives`.
    :param str classifier_weight: the weight :math:`w_c` of the classifier term: ``"step"``
        (:math:`\alpha N/N_l`) or ``"pass"`` (:math:`\alpha N/N_u`, :math:`\mathcal{J}^\alpha` over an
        epoch), see :mod:`pyross.objectives`. Without unlabelled images both are :math:`\alpha N/N_l`.
    :ivar dict terms: the three terms of the last call, as floats (the labelled bound before
        its weight), for logging.
    """

    uses_labelled, uses_unlabelled = True, True

    def __init__(self, model, alpha, n_labelled, n_train, jit=False, labelled_bound="step", classifier_weight="step",
                 compile=False):
        if labelled_bound not in LABELLED_BOUNDS:
            raise ValueError(f"labelled_bound must be one of {LABELLED_BOUNDS}, not {labelled_bound!r}")
        if classifier_weight not in CLASSIFIER_WEIGHTS:
            raise ValueError(f"classifier_weight must be one of {CLASSIFIER_WEIGHTS}, not {classifier_weight!r}")
        self.model, self.classifier = model.model, model.classifier
        self.guide = config_enumerate(model.guide, "parallel")
        n_unlabelled = n_train - n_labelled
        per_pass = classifier_weight == "pass" and n_unlabelled > 0
        self.classifier_weight = alpha * n_train / (n_unlabelled if per_pass else n_labelled)
        self.labelled_weight = 1.0 if labelled_bound == "step" else n_labelled / n_train
        if jit:  # not JitTrace_ELBO for the labelled bound: its differentiable_loss doubles the gradient
            self.labelled_elbo = PerShape(JitTraceEnum_ELBO, max_plate_nesting=1, strict_enumeration_warning=False)
            self.unlabelled_elbo = PerShape(JitTraceEnum_ELBO, max_plate_nesting=1)
        else:
            self.labelled_elbo = Trace_ELBO(max_plate_nesting=1)  # y observed: nothing to enumerate
            self.unlabelled_elbo = TraceEnum_ELBO(max_plate_nesting=1)
        self._loss_and_terms = (CompiledLoss(lambda *batches: self.loss_and_terms(self.model, self.guide, *batches),
                                             model) if compile else None)
        self.terms = {}

    def labelled_bound(self, model, guide, x, y):
        r"""Mean of :math:`\mathcal{L}(x, y)` (the negative labelled ELBO) over the batch."""
        return self.labelled_elbo.differentiable_loss(model, guide, x, y) / len(x)

    def unlabelled_bound(self, model, guide, x):
        r"""Mean of :math:`\mathcal{U}(x)` (the negative unlabelled ELBO), ``y`` enumerated."""
        return self.unlabelled_elbo.differentiable_loss(model, guide, x) / len(x)

    def classifier_loss(self, x, y):
        r"""Mean of :math:`-\log q_\phi(y \mid x)` over the labelled batch."""
        return F.cross_entropy(self.classifier(x), y)

    def __call__(self, model, guide, labelled, unlabelled=None):
        """The per-step loss.

        :param labelled: ``(x, y)``, a labelled batch.
        :param unlabelled: ``x``, an unlabelled batch, or ``None`` (fully supervised).
        :returns: the scalar loss tensor, differentiable.
        """
        if self._loss_and_terms is None:
            loss, terms = self.loss_and_terms(model, guide, labelled, unlabelled)
        else:  # compiled: model and guide are ours, as under SVI
            loss, terms = self._loss_and_terms(labelled, unlabelled)
        self.terms = {k: v.item() for k, v in terms.items()}
        return loss

    def loss_and_terms(self, model, guide, labelled, unlabelled=None):
        """The per-step loss (as :meth:`__call__`) and its terms, tensors (the labelled bound before its weight)."""
        x, y = labelled
        terms = {"labelled": self.labelled_bound(model, guide, x, y),
                 "classifier": self.classifier_loss(x, y)}
        loss = self.labelled_weight * terms["labelled"] + self.classifier_weight * terms["classifier"]
        if unlabelled is not None:
            terms["unlabelled"] = self.unlabelled_bound(model, guide, unlabelled)
            loss = loss + terms["unlabelled"]
        return loss, terms


class LabelledLikelihood:
    r"""Supervised training of a model with the observed site ``y`` and nothing latent (FF,
    M1's head): its ELBO is :math:`\log p(y \mid x)`, so the loss is the cross-entropy, mean
    over the labelled batch. Unlabelled batches are not read.
    """

    uses_labelled, uses_unlabelled = True, False

    def __init__(self, model):
        self.model, self.guide = model.model, model.guide
        self.elbo = Trace_ELBO(max_plate_nesting=1)
        self.terms = {}

    def __call__(self, model, guide, labelled, unlabelled=None):
        x, y = labelled
        loss = self.elbo.differentiable_loss(model, guide, x, y) / len(x)
        self.terms = {"classifier": loss.item()}
        return loss


class UnsupervisedELBO:
    r"""The VAE's negative ELBO, mean over an unlabelled batch, with the KL term in closed form
    (``TraceMeanField_ELBO``):

    .. math::

        \ell(x) = -\mathbb{E}_{q_\phi(z \mid x)}[\log p_\theta(x \mid z)]
                  + \beta\, \mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z)).

    :math:`\beta = 1` is the ELBO. With a **KL warm-up** (Sønderby et al. 2016) the weight
    :math:`\beta` of the KL term (the site ``z`` in the model and the guide) rises linearly from 0
    to 1 over the first ``kl_warmup`` epochs of training, so that the encoder puts information
    into more units of :math:`z` before the prior pulls the unused ones to it. Validation
    (:meth:`loss`) always uses :math:`\beta = 1`.

    :param int kl_warmup: epochs of the warm-up; 0: none (:math:`\beta = 1` throughout).
    """

    uses_labelled, uses_unlabelled = False, True

    def __init__(self, model, kl_warmup=0):
        self.model, self.guide = model.model, model.guide
        self.elbo = TraceMeanField_ELBO(max_plate_nesting=1)
        self.kl_warmup = kl_warmup
        self.kl_weight = 1.0
        self.terms = {}

    def set_progress(self, epochs):
        r"""Set :math:`\beta` for a step taken after ``epochs`` epochs of training (a fraction within an epoch)."""
        self.kl_weight = min(1.0, epochs / self.kl_warmup) if self.kl_warmup else 1.0

    def loss(self, x):
        """Mean negative ELBO of images ``x``."""
        return self.elbo.differentiable_loss(self.model, self.guide, x) / len(x)

    def __call__(self, model, guide, labelled, unlabelled):
        weigh = _ScaleSite("z", self.kl_weight)
        loss = self.elbo.differentiable_loss(weigh(self.model), weigh(self.guide), unlabelled) / len(unlabelled)
        # during a warm-up "elbo" is the bound with the KL term weighted by kl_weight
        self.terms = {"elbo": -loss.item(), **({"kl_weight": self.kl_weight} if self.kl_warmup else {})}
        return loss


class _ScaleSite(Messenger):
    """Multiply the log-density of the sample site ``name`` by ``scale`` (Pyro's ``poutine.scale``
    for one site only)."""

    def __init__(self, name, scale):
        super().__init__()
        self.name, self.scale = name, scale

    def _process_message(self, msg):
        if msg["name"] == self.name:
            msg["scale"] = self.scale * msg["scale"]


class CCVAEBound:
    r"""CCVAE's objective (Joy et al. 2021) for one labelled and one unlabelled batch.

    **Labelled images**: the paper's supervised bound,

    .. math::

        \mathcal{L}(x, y) = \mathbb{E}_{q_\phi(z \mid x)}\!\left[
            \frac{q_\varphi(y \mid z_c)}{q_{\varphi,\phi}(y \mid x)}
            \log \frac{p_\theta(x \mid z)\, p_\psi(z_c \mid y)\, p(z_s)}{q_\varphi(y \mid z_c)\, q_\phi(z \mid x)}
        \right] + \log q_{\varphi,\phi}(y \mid x) + \log p(y),

    estimated with one sample of :math:`z`, and
    :math:`q_{\varphi,\phi}(y \mid x) \approx \frac1k \sum_{j=1}^k q_\varphi(y \mid z_c^{(j)})`
    with :math:`k` further samples :math:`z_c^{(j)} \sim q_\phi(z_c \mid x)`. The log-densities
    come from the Pyro traces of ``model`` and ``guide``, site by site. In the weight's numerator
    :math:`z_c` is held fixed (no gradient to the encoder through the weight), as in the
    authors' code.

    **Unlabelled images**: the ELBO with ``y`` drawn from :math:`q_\varphi(y \mid z_c)` in the
    guide and enumerated over the classes by ``TraceEnum_ELBO`` (exact; the paper samples it).

    The loss of a step is the mean negative bound over the labelled batch plus the mean
    negative ELBO over the unlabelled batch.

    :param model: a :class:`~pyross.models.CCVAE`; its ``k`` is the number of samples of
        :math:`z_c` in the estimate of :math:`q(y \mid x)`.
    """

    uses_labelled, uses_unlabelled = True, True

    def __init__(self, model):
        self.net, self.k = model, model.k
        self.model = model.model
        self.guide = config_enumerate(model.guide, "parallel")
        self.unlabelled_elbo = TraceEnum_ELBO(max_plate_nesting=model.max_plate_nesting)
        self.terms = {}

    def log_qy_x(self, x, y):
        r""":math:`\log q_{\varphi,\phi}(y \mid x)`, from ``k`` samples of :math:`z_c`, per image."""
        loc, scale = self.net.encoder(x)
        k = self.net.num_classes
        z_c = dist.Normal(loc[..., :k], scale[..., :k]).rsample((self.k,))  # (k, B, K)
        log_q = self.net.label_log_prob(self.net.classify_characteristics(z_c), y)  # (k, B)
        return log_q.logsumexp(0) - math.log(self.k)

    def supervised_bound(self, x, y):
        """The supervised bound of each labelled image, ``(B,)``."""
        guide_trace = poutine.trace(self.guide).get_trace(x, y)
        model_trace = poutine.trace(poutine.replay(self.model, trace=guide_trace)).get_trace(x, y)
        model_trace.compute_log_prob()
        guide_trace.compute_log_prob()
        per_image = self.net.per_image
        log_p = {name: per_image(site["log_prob"]) for name, site in model_trace.nodes.items()
                 if site["type"] == "sample" and name not in ("data", "labels")}
        log_q = sum(per_image(site["log_prob"]) for name, site in guide_trace.nodes.items()
                    if site["type"] == "sample" and name not in ("data", "labels"))
        z_c = guide_trace.nodes["z_c"]["value"]
        classify, label_log_prob = self.net.classify_characteristics, self.net.label_log_prob
        log_qy_zc = label_log_prob(classify(z_c), y)
        log_qy_zc_fixed = label_log_prob(classify(z_c.detach()), y)
        log_qy_x = self.log_qy_x(x, y)
        weight = (log_qy_zc_fixed - log_qy_x).exp()
        log_py = log_p.pop("y")
        return weight * (sum(log_p.values()) - log_q - log_qy_zc) + log_qy_x + log_py

    def __call__(self, model, guide, labelled, unlabelled=None):
        x, y = labelled
        terms = {"labelled": -self.supervised_bound(x, y).mean()}
        loss = terms["labelled"]
        if unlabelled is not None:
            terms["unlabelled"] = self.unlabelled_loss(unlabelled)
            loss = loss + terms["unlabelled"]
        self.terms = {k: v.item() for k, v in terms.items()}
        return loss

    def unlabelled_loss(self, x):
        """The mean negative ELBO of unlabelled images ``x``, ``y`` enumerated (for binary
        attributes, without Pyro's plate-dependence warning: see :class:`~pyross.models.ccvae.MultiLabelCCVAE`)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*possibly invalid dependency", category=RuntimeWarning)
            return self.unlabelled_elbo.differentiable_loss(self.model, self.guide, x) / len(x)


def _nothing(*args, **kwargs):
    """A model or guide with no sample sites."""


class Reconstruction:
    """The denoising autoencoder's loss (:meth:`~pyross.models.DAE.loss`) as a loss callable:
    the network is registered with Pyro inside the call, so :class:`~pyro.infer.SVI` finds
    its weights and Adam steps them like any model's."""

    uses_labelled, uses_unlabelled = False, True
    model = guide = staticmethod(_nothing)

    def __init__(self, net):
        self.net = net
        self.terms = {}

    def loss(self, x):
        """Mean reconstruction loss of images ``x``."""
        pyro.module("dae", self.net)
        return self.net.loss(x)

    def __call__(self, model, guide, labelled, unlabelled):
        loss = self.loss(unlabelled)
        self.terms = {"reconstruction": loss.item()}
        return loss


def make_svi(objective, lr, loss_and_grads=None):
    """An :class:`~pyro.infer.SVI` taking Adam steps on ``objective`` (one Adam for all the
    parameters: :class:`~pyross.optim.JointAdam`).

    :param loss_and_grads: what computes the loss and its gradients, if not Pyro's default
        (data-parallel training averages them across processes: :func:`pyross.distributed.averaging`).
    """
    return pyro.infer.SVI(objective.model, objective.guide, JointAdam(lr), loss=objective,
                          loss_and_grads=loss_and_grads)
