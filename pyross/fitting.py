"""From a run's options to a finished run folder: data, model, objective, training.

This is what ``pyross fit`` does after it has checked its options, usable from Python too::

    from pyross.fitting import create_run, fit_run, new_config

    config = new_config("m2", dataset="mnist", labels=100, epochs=2)
    summary = fit_run(create_run("runs/m2-demo", config), config)

Nothing here names a model: each model's recipe (:mod:`pyross.recipes`) gives its objective,
its defaults, the options it takes and its stages. A stage (M1's and M1+M2's VAE) trains in a
sub-folder of the run (a run folder of its own, resumed or skipped if already there), unless
the run names a finished one to reuse; the recipe's steps between stages (M1+M2's active
units) run next, then the main training.
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
from .errors import PyrossError, unknown_name
from .evaluation import accuracy
from .models import CLASSIFIERS, get_model_class
from .recipes import COMMON_DEFAULTS, GENERAL_OPTIONS, check_compiled, make_objective, recipe_of
from .runs import BEST, CONFIG, LAST, SUMMARY, Run
from .train import Trainer

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
    (:func:`model_option_names`), a training option of every model
    (:data:`~pyross.recipes.GENERAL_OPTIONS`) or one of its recipe's."""
    return name in model_option_names(model) or name in GENERAL_OPTIONS or name in recipe_of(model).options


def new_config(model, preset=None, **options):
    """The config of a new run: ``options`` over the ``preset`` over the model's defaults over
    the common ones.

    :param str preset: a name of the model's recipe's presets (:class:`~pyross.recipes.Preset`);
        the config then records it as ``preset``, and the options given that differ from it as
        ``overrides``.
    :param options: the options :func:`takes_option` allows: training options and the model's
        own (:func:`model_option_names`); ``None`` means the default.
    :raises PyrossError: for an option the model does not take, or an unknown preset.
    """
    given = {k: v for k, v in options.items() if v is not None}
    recipe = recipe_of(model)
    presets = recipe.presets
    if preset is not None and preset not in presets:
        if not presets:
            raise PyrossError(f"--preset does not apply to {model}: it has no presets")
        raise unknown_name(f"preset of {model}", preset, presets)
    chosen = presets[preset].options if preset else {}
    check_compiled(model, given)
    for name in given:
        if not takes_option(model, name):
            raise PyrossError(f"--{name.replace('_', '-')} does not apply to {model}")
    merged = {**COMMON_DEFAULTS, **recipe.defaults, **chosen, **given}
    if merged["dataset"].startswith(FOLDER) and "labels" not in given:
        merged["labels"] = "all"  # every image of the labelled/ folder
    training = {*COMMON_DEFAULTS, *GENERAL_OPTIONS, *recipe.options}
    config = {k: v for k, v in merged.items() if k in training}
    config["model"] = model
    config["model_options"] = {k: merged.get(k, default) for k, default in constructor_defaults(model).items()}
    if preset is not None:
        config["preset"] = preset
        config["overrides"] = {k: v for k, v in given.items() if k in chosen and v != chosen[k]}
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
    return SemiSupervisedData(data.labelled, data.unlabelled.view(keep.to(device)), data.valid, data.test)


def _stderr(message):
    print(message, file=sys.stderr)


def reuse_stages(config, path, option):
    """Make the new run's ``config`` reuse the finished run at ``path`` (given as ``option``) as
    its first stage instead of training one: that run's model options and training are recorded.

    :raises PyrossError: for a folder that is not a finished run of the stage's model on the
        same dataset.
    """
    stage = recipe_of(config["model"]).stages[0]
    stage_config = require_finished(path, stage.model, config["dataset"], option).config
    stage.adopt(config, stage_config)
    config[stage.reuse] = os.path.abspath(path)


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


def _stage(stage, number, run, config, data, dataset, device, progress, echo):
    """Train (or resume, or reuse) one stage of a run; return its finished run."""
    if config.get(stage.reuse):
        return require_finished(config[stage.reuse], stage.model, config["dataset"], stage.reuse_flag)
    path = run.file(stage.folder)
    echo(f"{config['model']}, step {number}: the {stage.model.upper()}, trained without labels on {data.n_train} "
         f"images; run folder {path}")
    return ensure_trained(path, new_config(stage.model, **stage.run_options(config)), device, progress, echo,
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
    recipe = recipe_of(config["model"])
    net = build_model(config, dataset).to(device)
    for number, stage in enumerate(recipe.stages, 1):
        _stage(stage, number, run, config, data, dataset, device, progress, echo).restore(
            getattr(net, stage.attribute), BEST, device=device)
    for step in recipe.between:
        options = step(net, data, config, echo)
        if options is not None:  # recorded (a resumed run keeps them), and the model rebuilt with them
            config["model_options"] = options
            if distributed.is_main():
                run.write_json(CONFIG, {**run.config, "model_options": options})
            parts = {stage.attribute: getattr(net, stage.attribute) for stage in recipe.stages}
            net = build_model(config, dataset).to(device)
            for name, part in parts.items():  # trained above: no second read of their checkpoints
                setattr(net, name, part)
    if recipe.fitted_in_one_go and recipe.fitted_in_one_go(net):
        if distributed.active():
            raise PyrossError("a scikit-learn head trains in one process: run it without torchrun")
        return _fit_estimator(net, run, data, config["seed"])
    if hasattr(net, "set_label_prior"):  # p(y): the label frequencies of the labelled images
        net.set_label_prior(data.labelled.y)
    objective = make_objective(config["model"], net, config["alpha"], len(data.labelled), data.n_train,
                               **{k: config.get(k) for k in recipe.objective_options})
    trainer = Trainer(net, objective, data, run, config["batch_size"], config["lr"], config["seed"],
                      config["augment"], dataset.image_shape, config["augment_unlabelled"], progress=progress,
                      steps_per_epoch=config.get("steps_per_epoch"), precision=config.get("precision", "float32"),
                      ema=config.get("ema", 0.0), lr_schedule=config.get("lr_schedule", "constant"),
                      labelled_batch_size=config.get("labelled_batch_size"))
    if resume and os.path.exists(run.file(LAST)):
        trainer.resume()
    echo(f"{config['model']} on {config['dataset']} ({dataset.source}): {len(data.labelled)} labelled, "
         f"{len(data.unlabelled)} unlabelled, {trainer.steps_per_epoch} steps per epoch, "
         f"device {device}; run folder {run.path}")
    return trainer.fit(config["epochs"])


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
    return recipe_of(model).classifiers


def check_classifier(model, classifier):
    """Raise a one-line error for a ``--classifier`` the model does not have."""
    allowed = classifier_choices(model)
    if classifier is not None and classifier not in allowed:
        raise PyrossError(f"--classifier {classifier} is not available for {model}; choose from {', '.join(allowed)}")
