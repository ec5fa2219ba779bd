"""The model registry: a name on the command line → a model class and what it is."""
from ..errors import unknown_name
from .adgm import ADGM
from .ccvae import CCVAE
from .dae import DAE
from .ff import FF
from .m1 import M1
from .m1m2 import M1M2
from .m2 import M2
from .vae import VAE

#: name → (class, one-line description)
MODELS = {
    "m2": (M2, "Kingma et al.'s generative semi-supervised model: y enumerated when unlabelled"),
    "adgm": (ADGM, "Maaløe et al.'s auxiliary deep generative model: M2 with an auxiliary latent a in the guide"),
    "m1m2": (M1M2, "Kingma et al.'s stacked M1+M2: M2 on the code z1 of a frozen M1 VAE"),
    "m1": (M1, "Kingma et al.'s M1: a classifier on the latent means of a VAE trained without labels"),
    "ff": (FF, "feed-forward baseline classifier, trained on the labelled images only"),
    "vae": (VAE, "variational autoencoder (no labels): Bernoulli or Gaussian likelihood"),
    "dae": (DAE, "denoising autoencoder (no labels): a representation baseline, plain PyTorch"),
    "ccvae": (CCVAE, "Joy et al.'s characteristic-capturing VAE: one latent dimension per class, z = (z_c, z_s)"),
}

#: models that classify (they have ``classifier(x)``); the others learn representations
CLASSIFIERS = ["m2", "adgm", "m1m2", "m1", "ff", "ccvae"]
#: a model registered with :func:`register` → the built-in model it trains like
TRAINS_LIKE = {}
#: a model registered with :func:`register` with a recipe of its own → that
#: :class:`~pyross.recipes.Recipe`
OWN_RECIPES = {}


def register(name, cls, description, like="m2", recipe=None):
    """Make a new model class available by ``name``: to the trainer, the CLI and run folders.

    The new model trains like the built-in model ``like``: with its recipe (its objective, e.g.
    M2's semi-supervised ELBO, which enumerates every discrete site of the guide, its default
    options, its stages), and as a classifier if ``like`` is one. Or it brings a ``recipe`` of its
    own (:class:`pyross.recipes.Recipe`), stages included, and classifies if it has a
    ``classifier``. Its constructor's arguments become its options, as for the built-in models.

    :param str name: the name on the command line, e.g. ``"m2w"``.
    :param type cls: the model class (``model``/``guide`` methods, an ``nn.Module``).
    :param str description: one line for ``pyross models``.
    :param str like: the built-in model it trains like (when it has no ``recipe``).
    :param recipe: how it trains (:class:`pyross.recipes.Recipe`); ``None``: as ``like`` does.
    """
    if name in MODELS:
        raise ValueError(f"a model named {name!r} is registered already")
    MODELS[name] = (cls, description)
    if recipe is not None:
        OWN_RECIPES[name] = recipe
        if hasattr(cls, "classifier"):
            CLASSIFIERS.append(name)
        return
    TRAINS_LIKE[name] = trains_like(like)
    if like in CLASSIFIERS:
        CLASSIFIERS.append(name)


def trains_like(name):
    """The built-in model whose objective and defaults the model ``name`` uses (itself if built in)."""
    return TRAINS_LIKE.get(name, name)


def get_model_class(name):
    """Return the model class registered as ``name``.

    :raises PyrossError: for an unknown name, suggesting the closest one.
    """
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    return MODELS[name][0]


__all__ = ["ADGM", "CCVAE", "CLASSIFIERS", "DAE", "FF", "M1", "M1M2", "M2", "MODELS", "OWN_RECIPES", "VAE",
           "get_model_class", "register", "trains_like"]
