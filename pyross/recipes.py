r"""How each model trains: its recipe, in one place.

A :class:`Recipe` says everything :mod:`pyross.fitting` needs to train a model, so that the
fitting code names no model:

* its **objective**, built from the network, Kingma's :math:`\alpha`, the numbers of labelled
  and of all training images, and the options of the run the objective takes;
* its **default options**, and the **training options** it takes beyond those every model has;
* its **stages**, if it has more than one: M1 and M1+M2 train a VAE first (a run folder of its
  own in the sub-folder ``vae/``, resumed or reused), whose weights then go into the model;
* the **steps between** the stages and the main training, e.g. M1+M2's choice of the active
  units of :math:`z_1`, and whether the model is **fitted in one go** instead of by SVI (M1 with
  a scikit-learn head).

A model added with :func:`pyross.models.register` trains like a built-in one (``like="m2"``:
that model's recipe) or brings its own (``recipe=Recipe(...)``), stages included.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from .compiled import check_compiler
from .errors import PyrossError
from .models import OWN_RECIPES, trains_like
from .models.m1 import SKLEARN_HEADS
from .models.m1m2 import active_units
from .objectives import CCVAEBound, LabelledLikelihood, Reconstruction, SemiSupervisedELBO, UnsupervisedELBO

#: the options of a VAE: those of M1, and M1+M2's ``vae`` (copied from a VAE run given as ``vae_run``)
VAE_OPTIONS = ("z_dim", "hidden", "decoder_hidden", "activation", "batch_norm", "likelihood", "sigma")


@dataclass(frozen=True)
class Stage:
    """A model trained before the main one, without labels, into a sub-folder of the run (or a
    finished run reused instead); its best weights are then loaded into an attribute of the
    main model.

    :param str model: the registered name of the stage's model.
    :param str attribute: the main model's attribute that holds it (e.g. a frozen VAE).
    :param str folder: its sub-folder of the run.
    :param tuple options: the stage model's options, which the main model's options hold.
    :param str nested: the main model's option (a dict) that holds them; ``None``: they are
        among the main model's own options.
    :param dict training: the run's options that say how the stage trains, each by the name the
        stage's own run gives it (``vae_epochs`` is the VAE's ``epochs``).
    :param tuple shared: the run's options the stage's run takes as they are (unless ``training``
        gives one of them its own value).
    :param str reuse: the run's option naming a finished run to use instead.
    :param str reuse_flag: how the command line spells it.
    """

    model: str = "vae"
    attribute: str = "vae"
    folder: str = "vae"
    options: tuple = VAE_OPTIONS
    nested: Optional[str] = None
    training: dict = field(default_factory=lambda: {"vae_epochs": "epochs", "kl_warmup": "kl_warmup",
                                                    "vae_batch_size": "batch_size"})
    shared: tuple = ("dataset", "unlabelled", "batch_size", "lr", "seed", "data_dir", "precision")
    reuse: str = "vae_run"
    reuse_flag: str = "--vae"

    def model_options(self, config):
        """The options of the stage's model in the run's ``config``."""
        options = config["model_options"]
        return dict(options[self.nested]) if self.nested else {k: options[k] for k in self.options}

    def run_options(self, config):
        """The options of the stage's own run (its model's and its training's) from the run's ``config``."""
        trained = {key: config[name] for name, key in self.training.items() if config.get(name) is not None}
        return {**{k: config.get(k) for k in self.shared}, **self.model_options(config), **trained}

    def adopt(self, config, stage_config):
        """Make ``config`` describe the finished stage run it reuses (whose config is ``stage_config``):
        that run's model options, and how it was trained."""
        config.update({name: stage_config.get(key, 0) for name, key in self.training.items()})
        if self.nested:
            config["model_options"][self.nested] = stage_config["model_options"]
        else:
            config["model_options"].update({k: stage_config["model_options"][k] for k in self.options})


@dataclass(frozen=True)
class Recipe:
    """How a model trains.

    :param objective: ``(net, alpha, n_labelled, n_train, **options) -> objective``, a Pyro loss
        (see :mod:`pyross.objectives`).
    :param dict defaults: the model's default options (and training options).
    :param tuple options: the training options it takes beyond :data:`GENERAL_OPTIONS`.
    :param tuple objective_options: the run's options handed to ``objective`` where set.
    :param tuple classifiers: the values of ``classifier`` it takes, if it has that option.
    :param tuple stages: the :class:`Stage` s trained first, in order.
    :param tuple between: steps run after the stages, before training, each
        ``(net, data, config, echo) -> new model options or None``; new options are recorded in
        the run's config and the model is rebuilt with them, its stages' parts kept.
    :param fitted_in_one_go: ``net -> bool``: the model is then fitted by its ``fit_estimator``
        on the labelled images, not by SVI (a scikit-learn head).
    :param dict presets: named sets of options over ``defaults`` (``fit MODEL --preset NAME``),
        each a :class:`Preset`.
    """

    objective: Callable
    defaults: dict
    options: tuple = ()
    objective_options: tuple = ()
    classifiers: tuple = ("mlp", "cnn")
    stages: tuple = ()
    between: tuple = ()
    fitted_in_one_go: Optional[Callable] = None
    presets: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    """A named recipe of options, chosen with ``fit MODEL --preset NAME``; options given on the
    command line override it, and the run's config records the preset and what was overridden.

    :param str description: what it is, in a line.
    :param dict options: the options it sets, over the model's defaults.
    """

    description: str
    options: dict = field(default_factory=dict)


#: options every model takes, with their defaults
COMMON_DEFAULTS = {"dataset": "mnist", "labels": 100, "unlabelled": "all", "alpha": 0.5, "batch_size": 100,
                   "augment_unlabelled": False, "seed": 0, "data_dir": None, "image_size": None, "channels": None,
                   "attributes": None, "jit": False, "compile": False, "precision": "float32", "ema": 0.0,
                   "lr_schedule": "constant"}
#: the training options every model takes (the others are in its recipe's ``options``)
GENERAL_OPTIONS = (*(k for k in COMMON_DEFAULTS if k not in ("alpha", "labels", "jit", "compile")), "epochs", "lr",
                   "augment", "steps_per_epoch")


def keep_active_units(net, data, config, echo):
    """M1+M2, between its VAE and its M2: the units of z1 whose means vary over all training
    images with standard deviation above ``active_threshold``, chosen once (a resumed run keeps
    them); ``None`` where there is nothing to choose."""
    threshold = config.get("active_threshold")
    if not threshold or config["model_options"].get("units") is not None:
        return None
    images = torch.cat([data.labelled.x, data.unlabelled.x])
    means = torch.cat([net.vae.encode(x) for x in images.split(5000)])
    units = active_units(means, threshold)
    if not units:
        raise PyrossError(f"no unit of z1 is active (its means vary with standard deviation above {threshold}): "
                          f"train the VAE longer, or start a new run with a lower --active-threshold (0 keeps every unit)")
    echo(f"{config['model']}: M2 models the {len(units)} active units of z1's {net.vae.z_dim} (standard deviation "
         f"of the means above {threshold}): {units}")
    return {**config["model_options"], "units": units}


_VAE = {"z_dim": 50, "hidden": [400, 200], "decoder_hidden": None, "activation": "softplus", "batch_norm": "none",
        "likelihood": "bernoulli", "sigma": 0.1, "lr": 1e-3, "epochs": 20, "augment": 0, "kl_warmup": 0}
_M2_CLASSIFIER = {"classifier": "cnn", "classifier_hidden": [256], "activation": "relu", "batch_norm": "all",
                  "lr": 3e-4, "epochs": 6, "augment": 3}
#: the options of Kingma's semi-supervised ELBO (:class:`~pyross.objectives.SemiSupervisedELBO`), and the size
#: of its labelled batches (:class:`~pyross.train.Trainer`)
_SEMI_SUPERVISED = ("alpha", "labelled_bound", "classifier_weight", "jit", "compile", "labelled_batch_size")
#: those of them it takes besides alpha
_SEMI_SUPERVISED_OBJECTIVE = ("jit", "compile", "labelled_bound", "classifier_weight")
_VAE_STAGE = ("vae_epochs", "vae_batch_size", "vae_run", "kl_warmup")


#: the weights themselves at a constant rate: what the presets below set, whatever a model's tuned defaults average
_PLAIN_STEPS = {"ema": 0.0, "lr_schedule": "constant"}
#: the authors' batches with 100 labels: the 49,900 unlabelled and the 100 labelled images in 100 minibatches each
_AUTHORS_BATCHES = {"batch_size": 499, "labelled_batch_size": 1}
#: Kingma et al.'s M2 as the paper and the authors' code (dpkingma/nips14-ssl) state it; the
#: source of each value is in docs/presets.md
_M2_PAPER = {"classifier": "mlp", "augment": 0, "activation": "softplus", "batch_norm": "none", "z_dim": 50,
             "hidden": [500], "classifier_hidden": [500], "decoder_hidden": [500], "likelihood": "bernoulli",
             "alpha": 0.1, "lr": 3e-4, "epochs": 3000, "labelled_bound": "share", "classifier_weight": "pass",
             **_PLAIN_STEPS, **_AUTHORS_BATCHES}
#: the best permutation-invariant M2 of docs/results.md's probes: ADGM's networks (500-500 ReLU, z of 100,
#: batch norm) without its auxiliary latent (93.80 % validation at 25 epochs, seed 0; exp-J's 89.44 % before),
#: 40 epochs (three seeds: 92.32 % test)
_M2_PI = {"classifier": "mlp", "augment": 0, "activation": "relu", "batch_norm": "all", "z_dim": 100,
          "hidden": [500, 500], "classifier_hidden": [500, 500], "decoder_hidden": [500, 500], "alpha": 0.1,
          "lr": 3e-4, "epochs": 40, "labelled_bound": "step", **_PLAIN_STEPS}
#: the authors' M1+M2 (run_2layer_ssl.py with 100 labels): a 500-500 softplus VAE, then M2 with 300 units
_M1M2_PAPER = {"vae": {"z_dim": 50, "hidden": [500, 500], "decoder_hidden": None, "activation": "softplus",
                       "batch_norm": "none", "likelihood": "bernoulli", "sigma": 0.1},
               "z_dim": 50, "hidden": [300], "decoder_hidden": [300], "classifier_hidden": [300],
               "activation": "softplus", "batch_norm": "none", "alpha": 0.1, "lr": 3e-4, "epochs": 3000,
               "augment": 0, "kl_warmup": 0, "active_threshold": 0.1, "labelled_bound": "share", "z1_from": "grey",
               "classifier_weight": "pass", **_PLAIN_STEPS, **_AUTHORS_BATCHES, "vae_batch_size": 100}
#: the best permutation-invariant M1+M2 of docs/results.md's probes: the tuned defaults with alpha 0.1 (of
#: 0.5, 0.1 and 0.05; fifteenth session), and, since the twenty-seventh, a VAE whose KL weight ends at one half
#: (a warm-up of 80 epochs over its 40), z2 of 16 and z1 drawn from a fresh binarisation at every step: Table 1
#: with three seeds at or above the paper on every row (a 20-epoch warm-up, z2 of 8 and the grey-level codes
#: before: below it with 600, 1,000 and 3,000 labels)
_M1M2_PI = {"alpha": 0.1, "kl_warmup": 80, "z_dim": 16, "z1_from": "binarised"}
_TUNED = "pyross's tuned defaults (the ones without --preset)"


def _supervised(net, *_):
    return LabelledLikelihood(net)


#: the recipe of each built-in model; FF's defaults make its network exactly M2's q(y | x)
RECIPES = {
    # --ema 0.999 --lr-schedule cosine: no decay after the peak (docs/results.md, issue 20)
    "m2": Recipe(SemiSupervisedELBO, {**_M2_CLASSIFIER, "z_dim": 2, "hidden": [200, 200],
                                      "decoder_hidden": [200, 400, 600], "labelled_bound": "step",
                                      "classifier_weight": "step",
                                      "ema": 0.999, "lr_schedule": "cosine"},
                 options=(*_SEMI_SUPERVISED, "labels"), objective_options=_SEMI_SUPERVISED_OBJECTIVE,
                 presets={"tuned": Preset(f"{_TUNED}: a CNN classifier and shifted labelled images, not "
                                          f"permutation-invariant; a cosine schedule and an average of the weights"),
                          "paper": Preset("Kingma et al. 2014 as stated (permutation-invariant MLPs)", _M2_PAPER),
                          "pi": Preset("the best permutation-invariant recipe measured: MLPs only, no shifts", _M2_PI)}),
    # ADGM: M2's objective unchanged; the values of the authors' code (larsmaaloee/auxiliary-deep-generative-models,
    # run_mnist.py) but the epochs (1,000 there), see docs/models/adgm.md
    "adgm": Recipe(SemiSupervisedELBO, {"z_dim": 100, "a_dim": 100, "hidden": [500, 500], "activation": "relu",
                                        "batch_norm": "none", "alpha": 0.1, "lr": 3e-4, "epochs": 10, "augment": 0,
                                        "labelled_bound": "step", "classifier_weight": "step"},
                   options=(*_SEMI_SUPERVISED, "labels"), objective_options=_SEMI_SUPERVISED_OBJECTIVE,
                   presets={"paper": Preset("Maaløe et al. 2016 as the authors' run_mnist.py states it: the "
                                            "defaults, 10 epochs instead of 1,000"),
                            "pi": Preset("the best permutation-invariant recipe measured: the authors' values with "
                                         "batch norm, 25 epochs", {"batch_norm": "all", "epochs": 25})}),
    # M1+M2: the VAE of docs/results.md (500-500, 40 epochs with a 10-epoch KL warm-up), then 100 epochs of M2
    # on codes drawn from q(z1 | x) of the grey-level images, as the authors' code (since 2026-12-03: faster
    # epochs, and 95 % validation sooner than with a fresh binarisation at every step; docs/results.md); since the
    # twelfth session, an average of the weights (--ema 0.999): no decay after the peak; since the thirteenth,
    # z2 of 8 (of 2, 4, 8, 16 and 50: the highest mean validation accuracy, three seeds)
    "m1m2": Recipe(lambda net, *args, **options: SemiSupervisedELBO(net.m2, *args, **options),  # M2's, on z1
                   {"vae": {**{k: _VAE[k] for k in VAE_OPTIONS}, "hidden": [500, 500]},
                    "z_dim": 8, "ema": 0.999, "hidden": [500], "decoder_hidden": [500], "classifier_hidden": [500],
                    "activation": "relu", "batch_norm": "all", "lr": 1e-3, "epochs": 100, "augment": 0,
                    "vae_epochs": 40, "kl_warmup": 10, "active_threshold": 0.1, "labelled_bound": "share",
                    "classifier_weight": "step", "z1_from": "grey"},
                   options=(*_SEMI_SUPERVISED, "labels", *_VAE_STAGE, "active_threshold"),
                   objective_options=_SEMI_SUPERVISED_OBJECTIVE, classifiers=("mlp",),
                   stages=(Stage(nested="vae"),), between=(keep_active_units,),
                   presets={"tuned": Preset(f"{_TUNED}, which are permutation-invariant: MLPs only, no shifts"),
                            "pi": Preset("the best permutation-invariant recipe measured: the tuned defaults with "
                                         "the paper's alpha of 0.1, a VAE whose KL weight ends at one half "
                                         "(an 80-epoch warm-up over its 40), z2 of 16 and z1 from a fresh "
                                         "binarisation at every step", _M1M2_PI),
                            "paper": Preset("Kingma et al. 2014 as stated (the authors' run_2layer_ssl.py)",
                                            _M1M2_PAPER)}),
    "m1": Recipe(_supervised, {**_VAE, "classifier": "mlp", "classifier_hidden": [62], "epochs": 6, "vae_epochs": 20},
                 options=("labels", *_VAE_STAGE), classifiers=("mlp", *SKLEARN_HEADS), stages=(Stage(),),
                 fitted_in_one_go=lambda net: net.head is None),
    "ff": Recipe(_supervised, dict(_M2_CLASSIFIER), options=("labels",)),
    "vae": Recipe(lambda net, *_, kl_warmup=0: UnsupervisedELBO(net, kl_warmup), dict(_VAE),
                  options=("kl_warmup",), objective_options=("kl_warmup",)),
    "dae": Recipe(lambda net, *_: Reconstruction(net),
                  {**{k: v for k, v in _VAE.items() if k not in ("likelihood", "sigma", "kl_warmup")}, "noise": 0.3}),
    "ccvae": Recipe(lambda net, *_: CCVAEBound(net), {"z_dim": 16, "hidden": [500], "activation": "softplus",
                                                      "k": 100, "lr": 1e-3, "epochs": 10, "augment": 0},
                    options=("labels",)),
}


def recipe_of(name):
    """The recipe of the model registered as ``name``: its own, or that of the model it trains like."""
    return OWN_RECIPES.get(name) or RECIPES[trains_like(name)]


def _check_compilable(name, option):
    """Raise a one-line error if the objective of the model ``name`` cannot be compiled the way ``option``
    (``"jit"`` or ``"compile"``) asks."""
    if option not in recipe_of(name).options:
        compiled = [model for model, recipe in RECIPES.items() if option in recipe.options]
        listed = f"{', '.join(compiled[:-1])} and {compiled[-1]}" if len(compiled) > 1 else compiled[0]
        raise PyrossError(f"--{option} compiles the objective of {listed}, not of {name}")


def check_compiled(name, options):
    """Raise a one-line error if ``options`` ask to compile (``jit``, ``compile``) what cannot be,
    or both ways at once, or to compile with ``torch.compile`` where there is no C++ compiler."""
    for option in ("jit", "compile"):
        if options.get(option):
            _check_compilable(name, option)
    if options.get("jit") and options.get("compile"):
        raise PyrossError("--jit and --compile are two ways to compile the objective: give one")
    if options.get("compile"):
        check_compiler()


def make_objective(name, net, alpha, n_labelled, n_train, **options):
    """The training objective of the model registered as ``name``, for the network ``net``.

    :param options: the run's options; those the recipe's objective takes (``jit``, ``compile``,
        ``labelled_bound``, ``classifier_weight``, ``kl_warmup``) are handed to it where set.
    """
    check_compiled(name, options)
    recipe = recipe_of(name)
    given = {k: options[k] for k in recipe.objective_options if options.get(k)}
    return recipe.objective(net, alpha, n_labelled, n_train, **given)
