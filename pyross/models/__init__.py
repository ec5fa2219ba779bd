"""The model registry: a name on the command line → a model class and what it is."""
from ..errors import unknown_name
from .dae import DAE
from .ff import FF
from .m1 import M1
from .m1m2 import M1M2
from .m2 import M2
from .vae import VAE

#: name → (class, one-line description)
MODELS = {
    "m2": (M2, "Kingma et al.'s generative semi-supervised model: y enumerated when unlabelled"),
    "m1m2": (M1M2, "Kingma et al.'s stacked M1+M2: M2 on the code z1 of a frozen M1 VAE"),
    "m1": (M1, "Kingma et al.'s M1: a classifier on the latent means of a VAE trained without labels"),
    "ff": (FF, "feed-forward baseline classifier, trained on the labelled images only"),
    "vae": (VAE, "variational autoencoder (no labels): Bernoulli or Gaussian likelihood"),
    "dae": (DAE, "denoising autoencoder (no labels): a representation baseline, plain PyTorch"),
}

#: models that classify (they have ``classifier(x)``); the others learn representations
CLASSIFIERS = ("m2", "m1m2", "m1", "ff")


def get_model_class(name):
    """Return the model class registered as ``name``.

    :raises PyrossError: for an unknown name, suggesting the closest one.
    """
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    return MODELS[name][0]


__all__ = ["CLASSIFIERS", "DAE", "FF", "M1", "M1M2", "M2", "MODELS", "VAE", "get_model_class"]
