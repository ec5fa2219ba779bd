"""The model registry: a name on the command line → a model class and what it is."""
from ..errors import unknown_name
from .m2 import M2

#: name → (class, one-line description)
MODELS = {
    "m2": (M2, "Kingma et al.'s generative semi-supervised model: y enumerated when unlabelled"),
}


def get_model_class(name):
    """Return the model class registered as ``name``.

    :raises PyrossError: for an unknown name, suggesting the closest one.
    """
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    return MODELS[name][0]


__all__ = ["M2", "MODELS", "get_model_class"]
