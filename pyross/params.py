"""Parameter counts: what classifies a new image, and what else the model learns.

Seed 000 compares FF, M1 and M2 at matched classification parameters: the weights on the
path from an image to its class (FF: all of it; M1: the encoder q(z | x) and the head; M2:
q(y | x)). The rest (M2's q(z | x, y) and decoder, M1's decoder) are the additional,
generative parameters, which only the unlabelled images train.
"""
from types import SimpleNamespace

from .fitting import build_model, new_config

#: the shapes of MNIST and FashionMNIST images, for counting without loading data
MNIST_SHAPES = SimpleNamespace(x_dim=784, num_classes=10, image_shape=(1, 28, 28))


def _count(module):
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


def _count_part(model, name):
    """Parameters of the sub-module ``name`` of ``model``, or of its parameter ``name``."""
    try:
        return _count(model.get_submodule(name))
    except AttributeError:
        return model.get_parameter(name).numel()


def parameter_counts(model):
    """``(classification, additional)`` parameter counts of a model with ``classification_parts``."""
    classification = sum(_count_part(model, name) for name in model.classification_parts)
    return classification, _count(model) - classification


def parameter_table(configs, shapes=MNIST_SHAPES):
    """A markdown table of the parameter counts of the models ``configs`` describe.

    :param configs: ``(label, config)`` pairs, e.g. from :func:`~pyross.fitting.new_config`.
    """
    rows = ["| model | classification parameters | additional parameters | classifier |",
            "| --- | ---: | ---: | --- |"]
    for label, config in configs:
        classification, additional = parameter_counts(build_model(config, shapes))
        options = config["model_options"]
        hidden = ",".join(map(str, options.get("classifier_hidden") or []))
        described = f"{options.get('classifier', 'mlp')} {hidden}".strip()
        if config["model"] == "m1":
            described = f"encoder {','.join(map(str, options['hidden']))} → z {options['z_dim']} → {described}"
        elif config["model"] == "m1m2":
            vae = options["vae"]
            described = f"encoder {','.join(map(str, vae['hidden']))} → z1 {vae['z_dim']} → {described}"
        rows.append(f"| {label} | {classification:,} | {additional:,} | {described} |")
    return "\n".join(rows)


def default_configs():
    """The configs of FF, M1 and M2 with their default options."""
    return [(name, new_config(name)) for name in ("ff", "m1", "m2")]
