"""From a run's options to a finished run folder: data, model, objective, training.

This is what ``pyross fit`` does after it has checked its options, usable from Python too::

    from pyross.fitting import create_run, fit_run, new_config

    config = new_config("m2", dataset="mnist", labels=100, epochs=2)
    summary = fit_run(create_run("runs/m2-demo", config), config)

M1 trains in two stages: its VAE in the sub-folder ``vae/`` of the run (a run folder of its
own, resumed or skipped if already there), unless ``vae_run`` names a finished VAE run;
then the classifier head, with the encoder frozen.
"""
import inspect
import os
import platform
import sys
import time

import pyro
import torch

from . import __version__, distributed
from .data import SemiSupervisedData, get_dataset
from .data.registry import FOLDER
from .data.semisupervised import subsample
from .errors import PyrossError
from .evaluation import accuracy
from .models import CLASSIFIERS, get_model_class, trains_like
from .models.m1 import SKLEARN_HEADS
from .models.m1m2 import active_units
from .objectives import COMPILABLE, check_jit, make_objective
from .runs import BEST, CONFIG, LAST, SUMMARY, VAE_DIR, Run
from .train import Trainer

_VAE = {"z_dim": 50, "hidden": [400, 200], "decoder_hidden": None, "activation": "softplus", "batch_norm": "none",
        "likelihood": "bernoulli", "sigma": 0.1, "lr": 1e-3, "epochs": 20, "augment": 0, "kl_warmup": 0}
_M2_CLASSIFIER = {"classifier": "cnn", "classifier_hidden": [256], "activation": "relu", "batch_norm": "all",
                  "lr": 3e-4, "epochs": 6, "augment": 3}

#: the options of a VAE (those of M1, and M1+M2's ``vae``; copied from a VAE run given as ``vae_run``)
VAE_OPTIONS = ("z_dim", "hidden", "decoder_hidden", "activation", "batch_norm", "likelihood", "sigma")
#: the default options of each model; FF's classifier is M2's q(y | x), for matched comparisons
MODEL_DEFAULTS = {
    "m2": {**_M2_CLASSIFIER, "z_dim": 2, "hidden": [200, 200], "decoder_hidden": [200, 400, 600],
           "labelled_bound": "step"},
    "ff": dict(_M2_CLASSIFIER),
    "vae": dict(_VAE),
    "dae": {**{k: v for k, v in _VAE.items() if k not in ("likelihood", "sigma", "kl_warmup")}, "noise": 0.3},
    "m1": {**_VAE, "classifier": "mlp", "classifier_hidden": [62], "epochs": 6, "vae_epochs": 20},
    # M1+M2: the VAE of docs/results.md (500-500, 40 epochs with a 10-epoch KL warm-up), then 100 epochs of M2
    "m1m2": {"vae": {**{k: _VAE[k] for k in VAE_OPTIONS}, "hidden": [500, 500]},
             "z_dim": 50, "hidden": [500], "decoder_hidden": [500], "classifier_hidden": [500],
             "activation": "relu", "batch_norm": "all", "lr": 1e-3, "epochs": 100, "augment": 0,
             "vae_epochs": 40, "kl_warmup": 10, "active_threshold": 0.1, "labelled_bound": "share"},
    "ccvae": {"z_dim": 16, "hidden": [500], "activation": "softplus", "k": 100, "lr": 1e-3, "epochs": 10,
              "augment": 0},
}
#: options every model has, with their defaults
COMMON_DEFAULTS = {"dataset": "mnist", "labels": 100, "unlabelled": "all", "alpha": 0.5, "batch_size": 100,
                   "augment_unlabelled": False, "seed": 0, "data_dir": None, "image_size": None, "channels": None,
                   "attributes": None, "jit": False}
#: options of the training rather than of the model
TRAINING_OPTIONS = (*COMMON_DEFAULTS, "epochs", "lr", "augment", "vae_epochs", "vae_run", "steps_per_epoch",
                    "active_threshold", "labelled_bound", "kl_warmup")
#: the models that train or reuse a VAE first
STACKED = ("m1", "m1m2")
#: the training options only some models take (by the model they train like): alpha, the labelled
#: bound and the JIT belong to the semi-supervised ELBO, labels to the models that classify
_TRAINING_OPTION_MODELS = {"active_threshold": ("m1m2",), "labelled_bound": COMPILABLE, "alpha": COMPILABLE,
                           "jit": COMPILABLE, "kl_warmup": ("vae", "m1", "m1m2"), "vae_epochs": STACKED,
                           "vae_run": STACKED, "labels": CLASSIFIERS}
#: constructor arguments that come from the dataset, not from the options
_FROM_DATASET = ("x_dim", "num_classes", "image_shape")


def model_option_names(model):
    """The options the model registered as ``model`` takes (its constructor's arguments)."""
    params = inspect.signature(get_model_class(model)).parameters
    return [p for p in params if p not in _FROM_DATASET]


def constructor_defaults(model):
    """The options of the model registered as ``model`` (:func:`model_option_names`) and their
    defaults in its constructor (``None`` where it has none)."""
    params = inspect.signature(get_model_class(model)).parameters
    return {name: None if params[name].default is inspect.Parameter.empty else params[name].default
            for name in model_option_names(model)}


def takes_option(model, name):
    """Whether the model registered as ``model`` takes the option ``name``: one of its own
    (:func:`model_option_names`), or a training option (:data:`TRAINING_OPTIONS`) that applies to it."""
    only_for = _TRAINING_OPTION_MODELS.get(name)
    return name in model_option_names(model) or (
        name in TRAINING_OPTIONS and (only_for is None or trains_like(model) in only_for))


def new_config(model, **options):
    """The config of a new run: ``options`` over the model's defaults over the common ones.

    :param options: training options (:data:`TRAINING_OPTIONS`) and the model's options
        (:func:`model_option_names`); ``None`` means the default.
    :raises PyrossError: for an option the model does not take.
    """
    given = {k: v for k, v in options.items() if v is not None}
    if given.get("jit"):
        check_jit(model)
    for name in given:
        if not takes_option(model, name):
            raise PyrossError(f"--{name.replace('_', '-')} does not apply to {model}")
    names = model_option_names(model)
    merged = {**COMMON_DEFAULTS, **MODEL_DEFAULTS[trains_like(model)], **given}
    if merged["dataset"].startswith(FOLDER) and "labels" not in given:
        merged["labels"] = "all"  # every image of the labelled/ folder
    config = {k: v for k, v in merged.items() if k in TRAINING_OPTIONS}
    config["model"] = model
    defaults = inspect.signature(get_model_class(model)).parameters
    config["model_options"] = {k: merged[k] if k in merged else defaults[k].default for k in names}
    return config


def dataset_of(config, data_dir=None):
    """Load the dataset of a run's ``config`` (from ``data_dir`` if given, else the run's)."""
    return get_dataset(config["dataset"], data_dir or config["data_dir"], config.get("image_size"),
                       config.get("channels"), config["seed"], config.get("attributes"))


def build_model(config, dataset):
    """Instantiate the model a run's ``config`` describes, for ``dataset`` (or its shapes:
    ``x_dim``, ``num_classes``, ``image_shape``, ``multilabel``).

    :raises PyrossError: for multi-label data and a model that reads one class per image.
    """
    cls = get_model_class(config["model"])
    if getattr(dataset, "multilabel", False):
        if not hasattr(cls, "multilabel_variant"):
            raise PyrossError(f"{config['model']} reads one class per image, and {config['dataset']} has several "
                              f"binary attributes per image: use ccvae")
        cls = cls.multilabel_variant
    shapes = {"x_dim": dataset.x_dim, "num_classes": dataset.num_classes, "image_shape": dataset.image_shape}
    takes = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in shapes.items() if k in takes}, **config["model_options"])


def load_data(config, dataset, device):
    """The training data of a run: the labelled / unlabelled partition, or, for a model that
    learns without labels, every training image unlabelled."""
    if config["model"] in CLASSIFIERS:
        return SemiSupervisedData.from_dataset(dataset, config["labels"], config["seed"], config["unlabelled"], device)
    data = SemiSupervisedData.from_dataset(dataset, "all", config["seed"], device=device).without_labels()
    keep = subsample(torch.arange(len(data.unlabelled)), config["unlabelled"], config["seed"])
    return SemiSupervisedData(data.labelled, data.unlabelled.subset(keep.to(device)), data.valid, data.test)


def _stderr(message):
    print(message, file=sys.stderr)


def vae_options(config):
    """The options of the VAE inside an M1 or M1+M2 run."""
    options = config["model_options"]
    return dict(options["vae"]) if config["model"] == "m1m2" else {k: options[k] for k in VAE_OPTIONS}


def vae_run_of(path):
    """The VAE run folder of ``path``: itself if it is a VAE run, its VAE's if it is an M1 run."""
    config = Run.open(path).config
    if config["model"] == "m1":
        return config.get("vae_run") or os.path.join(path, VAE_DIR)
    return path


def _vae_config(config):
    """The config of the VAE an M1 or M1+M2 run trains first."""
    options = vae_options(config)
    keep = ("dataset", "unlabelled", "batch_size", "lr", "seed", "data_dir", "kl_warmup")
    return new_config("vae", **{k: config.get(k) for k in keep}, **options, epochs=config["vae_epochs"])


def require_finished(path, model, dataset, option):
    """Open the finished ``model`` run on ``dataset`` at ``path``, given as ``option``.

    :raises PyrossError: if it is not a run folder, is another model's or dataset's, or has not finished.
    """
    run = Run.open(path)
    config = run.config
    if config["model"] != model or config["dataset"] != dataset:
        raise PyrossError(f"{option} {path!r} is a {config['model']} run on {config['dataset']}, "
                          f"not a {model} run on {dataset}")
    if not os.path.exists(run.file(SUMMARY)):
        raise PyrossError(f"{option} {path!r} has not finished (no {SUMMARY}); "
                          f"finish it with: fit {model} --resume {path}")
    return run


def ensure_trained(path, config, device="cpu", progress=True, echo=_stderr, data=None, dataset=None):
    """The run at ``path``, trained to the end: left alone if it has finished, resumed if it
    holds a checkpoint, created from ``config`` and trained otherwise.

    :param data: its training data, if already loaded (with ``dataset``).
    """
    if os.path.exists(os.path.join(path, SUMMARY)):
        return Run.open(path)
    resume = os.path.exists(os.path.join(path, LAST))
    if resume:
        config = Run.open(path).config
    dataset = dataset or dataset_of(config)
    data = data or load_data(config, dataset, device)
    run = Run(path) if resume else create_run(path, config, device, True, dataset, data)
    train(run, config, data, dataset, device, resume, progress, echo)
    return run


def _vae_stage(run, config, data, dataset, device, progress, echo):
    """Train (or resume, or reuse) the VAE of an M1 run; return its finished run."""
    if config.get("vae_run"):
        return require_finished(config["vae_run"], "vae", config["dataset"], "--vae")
    echo(f"{config['model']}, step 1: the VAE, trained without labels on {data.n_train} images; run folder {run.file(VAE_DIR)}")
    return ensure_trained(run.file(VAE_DIR), _vae_config(config), device, progress, echo,
                          data.without_labels(), dataset)


def _provenance(dataset, data, device):
    return {"data_source": dataset.source, "class_names": list(dataset.class_names), "multilabel": dataset.multilabel,
            "image_shape": list(dataset.image_shape), "n_labelled": len(data.labelled), "n_unlabelled": len(data.unlabelled),
            "pyross": __version__, "torch": torch.__version__, "pyro": pyro.__version__,
            "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, {device}"}


def create_run(path, config, device="cpu", overwrite=False, dataset=None, data=None):
    """Check that the data of ``config`` load, then create the run folder with the config and
    where the data came from (class names and image shape included), the versions and the machine.

    :param dataset: the run's dataset, if already loaded (and ``data``, its training data).
    :raises PyrossError: for unloadable data or options the data do not allow, before
        anything is written.
    """
    dataset = dataset or dataset_of(config)
    data = data or load_data(config, dataset, "cpu")
    return Run.create(path, {**config, **_provenance(dataset, data, device)}, overwrite)


def train(run, config, data, dataset, device, resume=False, progress=True, echo=_stderr):
    """Train the model of ``config`` on ``data`` into ``run``.

    :returns: the summary dict (also in ``summary.json``).
    """
    pyro.set_rng_seed(config["seed"])
    pyro.clear_param_store()
    net = build_model(config, dataset).to(device)
    if config["model"] in STACKED:
        vae_run = _vae_stage(run, config, data, dataset, device, progress, echo)
        vae_run.restore(net.vae, BEST, device=device)
        if config.get("active_threshold") and config["model_options"].get("units") is None:
            _keep_active_units(run, config, net, data, echo)
            vae, net = net.vae, build_model(config, dataset).to(device)
            net.vae = vae  # restored above: no second read of its checkpoint
        if config["model"] == "m1" and net.head is None:
            if distributed.active():
                raise PyrossError("a scikit-learn head trains in one process: run it without torchrun")
            return _fit_estimator(net, run, data, config["seed"])
    if hasattr(net, "set_label_prior"):  # p(y): the label frequencies of the labelled images
        net.set_label_prior(data.labelled.y)
    objective = make_objective(config["model"], net, config["alpha"], len(data.labelled), data.n_train,
                               config.get("jit", False), config.get("labelled_bound"),
                               config.get("kl_warmup", 0) if trains_like(config["model"]) == "vae" else 0)
    trainer = Trainer(net, objective, data, run, config["batch_size"], config["lr"], config["seed"],
                      config["augment"], dataset.image_shape, config["augment_unlabelled"], progress=progress,
                      steps_per_epoch=config.get("steps_per_epoch"))
    if resume and os.path.exists(run.file(LAST)):
        trainer.resume()
    echo(f"{config['model']} on {config['dataset']} ({dataset.source}): {len(data.labelled)} labelled, "
         f"{len(data.unlabelled)} unlabelled, {trainer.steps_per_epoch} steps per epoch, "
         f"device {device}; run folder {run.path}")
    return trainer.fit(config["epochs"])


def _keep_active_units(run, config, net, data, echo):
    """M1+M2: choose the units of z1 that M2 models, once, from all training images, and record
    them in the run's config (a resumed run keeps them)."""
    images = torch.cat([data.labelled.x, data.unlabelled.x])
    means = torch.cat([net.vae.encode(x) for x in images.split(5000)])
    threshold = config["active_threshold"]
    units = active_units(means, threshold)
    if not units:
        raise PyrossError(f"no unit of z1 is active (its means vary with standard deviation above {threshold}): "
                          f"train the VAE longer, or start a new run with a lower --active-threshold (0 keeps every unit)")
    echo(f"m1m2: M2 models the {len(units)} active units of z1's {net.vae.z_dim} (standard deviation of the means "
         f"above {threshold}): {units}")
    config["model_options"]["units"] = units
    if distributed.is_main():
        run.write_json(CONFIG, {**run.config, "model_options": config["model_options"]})


def _fit_estimator(net, run, data, seed):
    """M1 with a scikit-learn head: fit it once, record it as one epoch."""
    start = time.perf_counter()
    net.fit_estimator(data.labelled.x, data.labelled.y, seed)
    seconds = round(time.perf_counter() - start, 2)
    record = {"epoch": 1, "valid_accuracy": accuracy(net, data.valid), "test_accuracy": accuracy(net, data.test),
              "seconds": seconds}
    run.truncate_metrics(0)
    run.log_metrics(record)
    for name in (BEST, LAST):
        run.save_checkpoint(name, {"model": net.state_dict(), "epoch": 1})
    summary = {"best_epoch": 1, "valid_accuracy": record["valid_accuracy"], "test_accuracy": record["test_accuracy"],
               "epochs": 1, "seconds_per_epoch": seconds}
    run.write_json(SUMMARY, summary)
    return summary


def fit_run(run, config=None, device="cpu", resume=False, progress=True, echo=_stderr, dataset=None):
    """Load the data of ``run`` and train it (from its last checkpoint if ``resume``).

    :param config: the run's config (default: its ``config.json``).
    :param dataset: the run's dataset, if already loaded.
    :returns: the summary dict.
    """
    config = config or run.config
    dataset = dataset or dataset_of(config)
    data = load_data(config, dataset, device)
    return train(run, config, data, dataset, device, resume, progress, echo)


def classifier_choices(model):
    """The values of ``--classifier`` that ``model`` takes."""
    return {"m1": ("mlp",) + SKLEARN_HEADS, "m1m2": ("mlp",)}.get(model, ("mlp", "cnn"))


def check_classifier(model, classifier):
    """Raise a one-line error for a ``--classifier`` the model does not have."""
    allowed = classifier_choices(model)
    if classifier is not None and classifier not in allowed:
        raise PyrossError(f"--classifier {classifier} is not available for {model}; choose from {', '.join(allowed)}")
