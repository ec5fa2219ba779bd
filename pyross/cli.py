"""The ``pyross`` command line: ``fit``, ``evaluate``, ``models``.

Every bad input ends in one line ``Error: ...`` on stderr and exit status 2, before any file
is written.
"""
import copy
import datetime
import functools
import math
import os
import sys

import click
import torch

from . import __version__, distributed
from .data import DATASETS, get_dataset, select_labelled
from .errors import PyrossError, unknown_name
from .estimators import ESTIMATORS
from .evaluation import confusion_matrix, intervention_score, predict
from .fitting import (build_model, check_classifier, classifier_choices, constructor_defaults, create_run, dataset_of,
                      ensure_trained, fit_run, new_config, require_finished, reuse_stages, takes_option)
from .models import CLASSIFIERS, MODELS
from .models.m1m2 import Z1_FROM
from .objectives import CLASSIFIER_WEIGHTS, LABELLED_BOUNDS
from .precision import PRECISIONS, Precision
from .train import LR_SCHEDULES, check_augment
from .recipes import COMMON_DEFAULTS, recipe_of
from .params import default_configs, parameter_table
from .figures import (TRAVERSAL_EXTENT, conditional_generation, intervention, latent_points, latent_walk,
                      reconstructions, style_transfer, traversal, walk_values)
from .experiments import accuracy_points, error_table, paper_points, paper_styles, run_grid
from .predict import input_paths, load_classifier, load_trained, predict_rows, require_classifier, write_csv
from .report import runs_table, show_option, validation_curves
from .representations import encode, results_table, run_study
from .runs import BEST, CONFIG, LAST, Run


def plots():
    """:mod:`pyross.plots`, imported by the commands that draw: matplotlib would add about 30 MB
    to every process, training ones included (docs/performance.md)."""
    from . import plots as module
    return module


def _count_or_all(name):
    def parse(ctx, param, value):
        if value is None or value == "all":
            return value
        try:
            return int(value)
        except ValueError:
            raise PyrossError(f"{name} must be a whole number or 'all', not {value!r}") from None
    return parse


def _labels(ctx, param, value):
    """``--labels``: a count, 'all', or a fraction of the training images such as 0.05."""
    if value is not None and "." in value:
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not 0 < fraction < 1:
            raise PyrossError(f"--labels as a fraction must be between 0 and 1, not {value!r}")
        return fraction
    return _count_or_all("--labels")(ctx, param, value)


def _hidden(ctx, param, value):
    if value is None:
        return None
    try:
        sizes = [int(v) for v in value.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) <= 0:
        raise PyrossError(f"--{param.name.replace('_', '-')} must be positive layer sizes separated by commas, "
                          f"e.g. 500,500; not {value!r}")
    return sizes


class _Finite(click.ParamType):
    """A real number that is finite: ``nan`` and ``inf`` are one-line errors while the options
    are parsed, before anything is written."""

    name = "float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


FINITE = _Finite()


def resolve_device(name):
    """``"auto"`` → ``"cuda"`` if a GPU is visible, else ``"cpu"``; checks ``"cuda"`` exists."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise PyrossError("--device cuda: no CUDA GPU is visible to PyTorch (use --device cpu or auto)")
    return name


def _check_positive(**values):
    for name, value in values.items():
        if value is not None and value <= 0:
            raise PyrossError(f"--{name.replace('_', '-')} must be positive, not {value}")


class _OneLineErrors(click.Group):
    """A click group whose errors, its own and pyross's, are one line with exit status 2."""

    def main(self, args=None, **kwargs):
        code = 2
        try:
            return super().main(args, standalone_mode=False, **kwargs)
        except PyrossError as e:
            message, code = str(e), e.exit_code
        except click.exceptions.Abort:
            message, code = "aborted", 130
        except click.ClickException as e:
            message = e.format_message()
        click.echo(f"Error: {message}", err=True)
        sys.exit(code)


@click.group(cls=_OneLineErrors)
@click.version_option(__version__, prog_name="pyross")
def main():
    """pyross: semi-supervised deep generative models in Pyro."""


@main.command("models")
@click.option("--defaults", is_flag=True, help="also print each model's default options")
def models_cmd(defaults):
    """List the models."""
    for name, (_, description) in MODELS.items():
        click.echo(f"{name:6s} {description}")
        if defaults:
            shown = {k: v for k, v in new_config(name).items()
                     if k != "model" and (k not in COMMON_DEFAULTS or v != COMMON_DEFAULTS[k])}
            options = {**shown.pop("model_options"), **shown}
            click.echo("       " + _as_flags({k: v for k, v in options.items() if k != "vae"}))
            for preset, recipe in recipe_of(name).presets.items():
                click.echo(f"       --preset {preset}: {recipe.description}" +
                           (f"\n         {_as_flags(recipe.options)}" if recipe.options else ""))


def _as_flags(options):
    """Options as typed on the command line; M1+M2's nested VAE options (which the command line
    sets with --vae RUN_DIR only) after them, in brackets."""
    flags = " ".join(f"--{k.replace('_', '-')} {show_option(v)}" for k, v in options.items()
                     if v is not None and not isinstance(v, dict))
    nested = [f"({k}: {_as_flags(v)})" for k, v in options.items() if isinstance(v, dict)]
    return " ".join([flags, *nested])


@click.command()
@click.option("--dataset", default="mnist", show_default=True,
              help=f"one of: {', '.join(DATASETS)}, or folder:PATH for your own images (see the README)")
@click.option("--data-dir", help="folder with the dataset in torchvision's raw layout")
@click.option("--image-size", type=int, help="image folders: resize images to this side  [default: 28]")
@click.option("--channels", type=click.Choice(["1", "3"]), help="image folders: 1 grey, 3 colour  [default: 1]")
@click.option("--attributes", callback=lambda ctx, param, value: value and [a.strip() for a in value.split(",")],
              help="celeba: the attributes to learn, comma-separated  [default: the 18 of Joy et al.]")
@click.option("--labels", callback=_labels,
              help="labelled training images: a count (a multiple of the classes), a fraction such as 0.05, or "
                   "'all' (an image folder: all)")
@click.option("--unlabelled", default="all", show_default=True, callback=_count_or_all("--unlabelled"),
              help="unlabelled training images to use, or 'all'")
@click.option("--augment", type=int, help="shift each labelled image by up to this many pixels")
@click.option("--augment-unlabelled/--no-augment-unlabelled", default=False, show_default=True,
              help="shift the unlabelled images too")
@click.option("--z-dim", type=int, help="dimension of z (of the code, for dae; of z2, for m1m2)")
@click.option("--a-dim", type=int, help="dimension of the auxiliary latent a (adgm)")
@click.option("--hidden", callback=_hidden, help="hidden layer sizes of the encoder, e.g. 500 or 500,500")
@click.option("--decoder-hidden", callback=_hidden, help="hidden sizes of the decoder (unset: --hidden reversed)")
@click.option("--classifier", type=click.Choice(["mlp", "cnn", "svm", "rf", "logreg"]),
              help="the classifier: an mlp or a cnn; m1's head may also be a scikit-learn svm, rf or logreg")
@click.option("--classifier-hidden", callback=_hidden,
              help="hidden sizes of the classifier (after the convolutions for the CNN)")
@click.option("--activation", type=click.Choice(["softplus", "relu", "tanh"]), help="hidden activation")
@click.option("--batch-norm", type=click.Choice(["none", "classifier", "all"]),
              help="which networks batch-normalise their hidden layers")
@click.option("--likelihood", type=click.Choice(["bernoulli", "gaussian"]),
              help="p(x|z) for binarised images or grey levels")
@click.option("--sigma", type=FINITE, help="standard deviation of the Gaussian likelihood")
@click.option("--noise", type=FINITE, help="standard deviation of the input corruption")
@click.option("--k", type=int, help="samples of z_c in the estimate of q(y|x)")
@click.option("--z1-from", type=click.Choice(Z1_FROM),
              help="z1 drawn at each step from q(z1|x) of a fresh binarisation of the image, or of the grey-level "
                   "image, its statistics computed once (the authors' code; faster)")
@click.option("--preset", help="a named set of options (see 'models --defaults'); options given here override it")
@click.option("--epochs", type=int, help="epochs (passes over the unlabelled images)")
@click.option("--batch-size", type=int,
              help="images a batch (of the unlabelled ones, where a step reads both kinds)")
@click.option("--labelled-batch-size", type=int,
              help="labelled images a step, where a step reads both kinds  [default: --batch-size]")
@click.option("--lr", type=FINITE, help="Adam learning rate")
@click.option("--alpha", type=FINITE, help="Kingma's alpha, weight of the classifier term (0.1 in the paper)")
@click.option("--labelled-bound", type=click.Choice(LABELLED_BOUNDS),
              help="weight of the labelled bound: step (like an unlabelled image's in each step) or share "
                   "(N_l/N, its share of the data, as in the paper)")
@click.option("--classifier-weight", type=click.Choice(CLASSIFIER_WEIGHTS),
              help="weight of the classifier term: step (alpha*N/N_l in each step, the labelled images cycling) "
                   "or pass (alpha*N/N_u a step: alpha*N/N_l per labelled image over an epoch, as in the paper)")
@click.option("--steps-per-epoch", type=int, help="steps of an epoch, labelled and unlabelled batches cycling  "
                                                  "[default: one pass over the images]")
@click.option("--vae", "vae_run", help="use the finished VAE run in this folder instead of training one")
@click.option("--m1", "m1_run", help="use the VAE of this finished m1 (or vae) run")
@click.option("--vae-epochs", type=int, help="epochs of the VAE trained first")
@click.option("--vae-batch-size", type=int, help="images a batch of the VAE trained first  [default: --batch-size]")
@click.option("--kl-warmup", type=int,
              help="the VAE's KL term is weighted by a factor that rises linearly from 0 to 1 over this many "
                   "epochs (0: none)")
@click.option("--active-threshold", type=FINITE,
              help="M2 models only the active units of z1, whose means vary over the training images with "
                   "standard deviation above this; 0: every unit")
@click.option("--jit", is_flag=True, default=None,
              help="compile the objective with Pyro's JIT, for speed (see docs/performance.md)")
@click.option("--compile", is_flag=True, default=None,
              help="record each step's whole loss once, then compile it with torch.compile, for speed; the same "
                   "training up to rounding; needs a C++ compiler; the first step compiles for up to a minute, "
                   "once per batch shape (see docs/performance.md)")
@click.option("--lr-schedule", type=click.Choice(LR_SCHEDULES),
              help="the learning rate: constant, or falling to 0 along half a cosine over the epochs")
@click.option("--ema", type=FINITE,
              help="validate, test and keep as best.pt a moving average of the weights with this decay, e.g. "
                   "0.999 (0: the weights themselves; pyross/averaging.py)")
@click.option("--precision", type=click.Choice(PRECISIONS), default="float32", show_default=True,
              help="of the networks' arithmetic in training: float32, or bfloat16 / float16 (GPU) autocast "
                   "(see docs/performance.md)")
@click.option("--seed", default=0, show_default=True, type=int, help="the draw of the labelled images, and of "
                                                                      "everything random")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
@click.option("--out", help="run folder  [default: runs/<model>-<timestamp>]")
@click.option("--overwrite", is_flag=True, help="replace an existing --out folder")
@click.option("--resume", "resume_dir", help="continue the run in this folder (its options are kept)")
@click.option("--quiet", is_flag=True, help="no progress bar")
def _fit_options(**_):
    """Every option of ``fit MODEL``, in the order of its help (each model shows those it takes)."""


#: the sections of ``fit MODEL --help`` (the options between data and training are the model's)
_SECTIONS = {"Data": ("dataset", "data_dir", "image_size", "channels", "attributes", "labels", "unlabelled",
                      "augment", "augment_unlabelled"),
             "Training": ("preset", "epochs", "batch_size", "labelled_batch_size", "lr", "alpha", "labelled_bound",
                          "classifier_weight", "steps_per_epoch", "vae_run", "m1_run", "vae_epochs", "vae_batch_size",
                          "kl_warmup", "active_threshold", "jit", "compile", "precision", "ema", "lr_schedule", "seed"),
             "Run": ("device", "out", "overwrite", "resume_dir", "quiet")}


def _applies(model, name):
    """Whether ``fit MODEL`` shows the option ``name``: those of the run folder and the command line
    always, the rest where the model takes them (:func:`pyross.fitting.takes_option`; ``--m1``
    where it takes ``--vae``)."""
    if name in _SECTIONS["Run"]:
        return True
    if name == "preset":
        return bool(recipe_of(model).presets)
    return takes_option(model, "vae_run" if name == "m1_run" else name)


def model_defaults(model):
    """The default of each option of ``model``, as typed on the command line (M1+M2's nested
    VAE options left out: they are the VAE's)."""
    config = new_config(model)
    options = {**config.pop("model_options"), **config}
    return {k: show_option(v) for k, v in options.items() if v is not None and k != "vae"}


def _constructor_option(name, default):
    """The option ``--name`` of a model's constructor argument that ``fit`` has no option for (a
    model registered from outside pyross, say), typed after its default (a number, a string, a
    flag, or sizes such as 500,500; arguments without a default or with a dict are not options)."""
    flag, help = f"--{name.replace('_', '-')}", f"the model's argument {name}"
    if isinstance(default, bool):
        return click.Option([f"{flag}/--no-{flag[2:]}", name], default=None, help=help)
    if isinstance(default, (list, tuple)):
        return click.Option([flag, name], callback=_hidden, help=help)
    return click.Option([flag, name], type={int: int, float: FINITE}.get(type(default), str), help=help)


class _ModelFit(click.Command):
    """``fit MODEL``: parses every option of ``fit`` (one that belongs to another model is a
    one-line error), but its help shows MODEL's options only, with MODEL's defaults, in sections."""

    def __init__(self, model):
        params = [copy.copy(param) for param in _fit_options.params]
        known = {param.name for param in params} | {flag for param in params for flag in param.opts}
        params += [_constructor_option(name, default) for name, default in constructor_defaults(model).items()
                   if name not in known and f"--{name.replace('_', '-')}" not in known
                   and isinstance(default, (bool, int, float, str, list, tuple))]
        defaults = model_defaults(model)
        for param in params:
            param.hidden = not _applies(model, param.name)
            if param.name == "classifier":  # the choices of this model (another is a one-line error)
                param.metavar = f"[{'|'.join(classifier_choices(model))}]"
            if param.name == "preset" and recipe_of(model).presets:
                presets = recipe_of(model).presets
                param.metavar = f"[{'|'.join(presets)}]"
                param.help = (f"{param.help}: " + "; ".join(f"{name}, {preset.description}"
                                                           for name, preset in presets.items()))
            if not param.show_default and not param.is_flag and param.name in defaults:
                param.help = f"{param.help or ''}  [default: {defaults[param.name]}]".strip()
        super().__init__(model, params=params, callback=functools.partial(fit, model),
                         help=f"Train {model}, {MODELS[model][1]}, and write a run folder.",
                         short_help=MODELS[model][1])

    def format_options(self, ctx, formatter):
        shown = [p for p in self.get_params(ctx) if not p.hidden]
        help_option = self.get_help_option(ctx)
        sections = {**_SECTIONS, "Run": (*_SECTIONS["Run"], help_option.name)}
        model = [p.name for p in shown if not any(p.name in names for names in sections.values())]
        for title, names in (("Data", sections["Data"]), ("Model", model), ("Training", sections["Training"]),
                             ("Run", sections["Run"])):
            rows = [p.get_help_record(ctx) for p in shown if p.name in names]
            if rows:
                with formatter.section(f"{title} options"):
                    formatter.write_dl(rows)


class _Models(click.Group):
    """``fit``: one command per registered model, made when it is asked for."""

    def list_commands(self, ctx):
        return list(MODELS)

    def get_command(self, ctx, name):
        return _ModelFit(name) if name in MODELS else None

    def resolve_command(self, ctx, args):
        if args and args[0] not in MODELS and not args[0].startswith("-"):
            raise unknown_name("model", args[0], MODELS)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx, formatter):
        with formatter.section("Models ('fit MODEL --help' lists a model's options and defaults)"):
            formatter.write_dl([(name, description) for name, (_, description) in MODELS.items()])


@main.group("fit", cls=_Models, subcommand_metavar="MODEL [OPTIONS]")
def fit_group():
    """Train a model and write a run folder (see 'models' for the models)."""


def vae_of_m1(path):
    """``--m1 PATH``: the VAE run of the M1 run at ``path`` (its sub-folder, or the VAE it reused);
    ``path`` itself for any other run (it must then be a VAE run)."""
    config = Run.open(path).config
    if config["model"] != "m1":
        return path
    stage = recipe_of("m1").stages[0]
    return config.get(stage.reuse) or os.path.join(path, stage.folder)


def fit(model, epochs, device, data_dir, out, overwrite, resume_dir, quiet, vae_run, m1_run, **options):
    """Train ``model`` with the options of ``fit MODEL``, and write its run folder."""
    _check_positive(epochs=epochs)
    stages = recipe_of(model).stages
    if vae_run and not stages:
        raise PyrossError(f"--vae does not apply to {model}")
    if m1_run:
        if not stages:
            raise PyrossError(f"--m1 does not apply to {model}")
        vae_run = vae_of_m1(m1_run)
    if resume_dir is not None:
        run = Run.open(resume_dir)
        config = run.config
        config["epochs"] = epochs or config["epochs"]
        if data_dir:
            config["data_dir"] = data_dir
    else:
        check_classifier(model, options["classifier"])
        if options["alpha"] is not None and options["alpha"] < 0:
            raise PyrossError(f"--alpha must be >= 0, not {options['alpha']}")
        _check_positive(**{k: options[k] for k in ("batch_size", "labelled_batch_size", "lr", "z_dim", "sigma",
                                                    "vae_epochs", "vae_batch_size", "image_size", "steps_per_epoch",
                                                    "k")})
        options["channels"] = options["channels"] and int(options["channels"])
        if options["ema"] is not None and not 0 <= options["ema"] < 1:
            raise PyrossError(f"--ema must be in [0, 1), not {options['ema']}")
        for name in ("augment", "noise", "active_threshold", "kl_warmup"):
            if options[name] is not None and options[name] < 0:
                raise PyrossError(f"--{name.replace('_', '-')} must be >= 0, not {options[name]}")
        config = new_config(model, epochs=epochs, data_dir=data_dir, **options)
        if config.get("labelled_batch_size") == 1 and config["model_options"].get("batch_norm", "none") != "none":
            raise PyrossError("--labelled-batch-size 1 leaves batch norm no batch to normalise: use 2 or more, "
                              "or --batch-norm none")
        if vae_run:
            for name in stages[0].training:
                if options[name] is not None:
                    raise PyrossError(f"--{name.replace('_', '-')} applies to the VAE {model} trains, "
                                      f"not to the one it reuses (--vae, --m1)")
            reuse_stages(config, vae_run, "--m1" if m1_run else "--vae")
    device = distributed.init(resolve_device(device))
    # float16 on a CPU is an error before anything is written; bfloat16 without the instructions, a warning
    precision = Precision(config.get("precision", "float32"), device)
    main = distributed.is_main()
    if main and precision.warning():
        click.echo(precision.warning(), err=True)
    stages = recipe_of(config["model"]).stages
    if distributed.active() and stages and not config.get(stages[0].reuse):
        raise PyrossError(f"{config['model']} under torchrun trains no VAE of its own: train one first "
                          f"(torchrun ... fit vae) and pass --vae RUN_DIR")
    distributed.check_batch_size(config["batch_size"])
    data_set = dataset_of(config)
    if resume_dir is None:
        if config["augment"]:  # a model that trains on features computed once refuses shifts, before any stage trains
            check_augment(build_model(config, data_set), config["augment"])
        out = distributed.from_main(out or os.path.join("runs", f"{model}-{datetime.datetime.now():%Y%m%d-%H%M%S}"))
        if main:
            run = create_run(out, config, device, overwrite, data_set)
        distributed.barrier()
        run = run if main else Run.open(out)
    elif main:
        run.write_json(CONFIG, config)  # with the new number of epochs
    summary = fit_run(run, config, device, resume=resume_dir is not None, progress=not quiet,
                      echo=lambda message: main and click.echo(message, err=True), dataset=data_set)
    if not main:
        return
    if "test_accuracy" in summary:
        click.echo(f"best validation accuracy {summary['valid_accuracy']:.4f} at epoch {summary['best_epoch']}; "
                   f"its test accuracy {summary['test_accuracy']:.4f} ({summary['seconds_per_epoch']} s per epoch)")
    else:
        click.echo(f"best validation loss {summary['valid_loss']:.2f} at epoch {summary['best_epoch']}; "
                   f"its test loss {summary['test_loss']:.2f} ({summary['seconds_per_epoch']} s per epoch)")
    if config["model"] == "vae" and config["model_options"]["z_dim"] == 2:
        from .pictures import latent_pictures  # draws with matplotlib: see plots()
        for path in latent_pictures(run, data_set, device):
            click.echo(f"wrote {path}")


@main.command()
@click.argument("run_dir")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--data-dir", help="folder with the dataset (default: the run's)")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
def evaluate(run_dir, checkpoint, data_dir, device):
    """Test accuracy of RUN_DIR's checkpoint; writes confusion_matrix.png into RUN_DIR."""
    run = Run.open(run_dir)
    config = run.config
    require_classifier(run)
    device = resolve_device(device)
    data_set = dataset_of(config, data_dir)
    net = build_model(config, data_set).to(device)
    state = run.restore(net, BEST if checkpoint == "best" else LAST, device=device)
    test = data_set.test.to(device)
    predicted = predict(net, test.x)  # once, for the accuracy and the confusion matrices
    correct = (predicted == test.y).float()
    acc = correct.mean().item()
    path = run.file("confusion_matrix.png")
    title = f"{config['model']}, {config['labels']} labels: test accuracy {acc:.4f}"
    if data_set.multilabel:  # one 2x2 matrix per attribute, and each attribute's accuracy
        counts = torch.stack([confusion_matrix(test.y[:, i], predicted[:, i], 2) for i in range(test.y.shape[1])])
        plots().plot_attribute_confusions(counts, data_set.class_names, path, title=title)
        click.echo("| attribute | test accuracy |\n| --- | ---: |")
        for name, a in zip(data_set.class_names, correct.mean(0).tolist()):
            click.echo(f"| {name} | {100 * a:.2f} % |")
    else:
        counts = confusion_matrix(test.y, predicted, data_set.num_classes)
        plots().plot_confusion_matrix(counts, data_set.class_names, path, title=title)
    click.echo(f"test accuracy {acc:.4f} ({checkpoint} checkpoint, epoch {state['epoch']}); wrote {path}")


def _label_counts(ctx, param, value):
    parse = _count_or_all("--labels")
    return [parse(ctx, param, v.strip()) for v in value.split(",")]


def _names(choices):
    def parse(ctx, param, value):
        names = [v.strip() for v in value.split(",")]
        for name in names:
            if name not in choices:
                raise unknown_name(param.name.rstrip("s"), name, choices)
        return names
    return parse


@main.command("compare-representations")
@click.option("--dataset", default="fashion-mnist", show_default=True, help=f"one of: {', '.join(DATASETS)}")
@click.option("--labels", default="100,600,1000,3000,all", show_default=True, callback=_label_counts,
              help="numbers of labelled training images, separated by commas")
@click.option("--classifiers", default="mlp,svm,rf,logreg", show_default=True, callback=_names(ESTIMATORS),
              help=f"classifiers trained on the VAE and DAE codes, from: {', '.join(ESTIMATORS)} "
                   f"(the raw pixels get an MLP)")
@click.option("--vae", "vae_run", help="use this finished VAE run instead of training one")
@click.option("--dae", "dae_run", help="use this finished DAE run instead of training one")
@click.option("--z-dim", default=16, show_default=True, type=int, help="size of the VAE and DAE codes")
@click.option("--hidden", default="400,200", show_default=True, callback=_hidden,
              help="hidden sizes of the VAE's and the DAE's encoders (decoders: reversed)")
@click.option("--epochs", default=20, show_default=True, type=int, help="epochs of the VAE and the DAE")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
@click.option("--data-dir", help="folder with the dataset in torchvision's raw layout")
@click.option("--out", help="study folder; run again with the same --out to resume  "
                            "[default: runs/representations-<dataset>]")
@click.option("--quiet", is_flag=True, help="no progress bars")
def compare_representations(dataset, labels, classifiers, vae_run, dae_run, z_dim, hidden, epochs, seed, device,
                            data_dir, out, quiet):
    """Classifiers trained on few labels, on VAE codes, DAE codes and raw pixels: writes
    representations.md (test accuracy) and representations.png into the study folder."""
    _check_positive(z_dim=z_dim, epochs=epochs)
    device = resolve_device(device)
    data_set = get_dataset(dataset, data_dir)
    for count in labels:  # every count checked before hours of training
        select_labelled(data_set.train.y, count, data_set.num_classes, seed)
    out = out or os.path.join("runs", f"representations-{dataset}")
    study = {"dataset": dataset, "seed": seed, "vae": vae_run, "dae": dae_run, "z_dim": z_dim, "hidden": hidden,
             "epochs": epochs}
    if os.path.exists(os.path.join(out, "study.json")):
        before = Run(out).read_json("study.json")
        if before != study:
            raise PyrossError(f"{out!r} holds a study with other options ({before}); choose another --out")
    os.makedirs(out, exist_ok=True)
    Run(out).write_json("study.json", study)
    echo = lambda message: click.echo(message, err=True)  # noqa: E731
    features = {}
    for model, given in (("vae", vae_run), ("dae", dae_run)):
        if given:
            run = require_finished(given, model, dataset, f"--{model}")
        else:
            config = new_config(model, dataset=dataset, data_dir=data_dir, seed=seed, z_dim=z_dim, hidden=hidden,
                                epochs=epochs)
            echo(f"{model}: trained without labels; run folder {os.path.join(out, model)}")
            run = ensure_trained(os.path.join(out, model), config, device, not quiet, echo)
        net = build_model(run.config, data_set).to(device)
        run.restore(net, BEST, device=device)
        features[model] = (encode(net, data_set.train.x.to(device)), encode(net, data_set.test.x.to(device)))
    features["pixels"] = (data_set.train.x.numpy(), data_set.test.x.numpy())
    results = run_study(features, data_set, labels, classifiers, seed, os.path.join(out, "results.jsonl"),
                        progress=not quiet)
    table, picture = os.path.join(out, "representations.md"), os.path.join(out, "representations.png")
    text = results_table(results)
    with open(table, "w") as f:
        f.write(f"Test accuracy (%) on {dataset}, seed {seed}, codes of size {z_dim}\n\n{text}\n")
    plots().plot_accuracy_vs_labels(results, picture, title=f"{dataset}: classifiers on VAE codes, DAE codes, pixels")
    click.echo(text)
    click.echo(f"wrote {table} and {picture}")


@main.command()
@click.argument("run_dirs", nargs=-1)
def params(run_dirs):
    """Parameter counts of FF, M1 and M2 with their defaults (or of the models of RUN_DIRS):
    the classification parameters, from an image to its class, and the additional,
    generative ones, for parameter-matched comparisons."""
    if run_dirs:
        runs = [Run.open(path) for path in run_dirs]
        for run in runs:
            require_classifier(run)
        configs = [(os.path.basename(os.path.normpath(run.path)), run.config) for run in runs]
    else:
        configs = default_configs()
    click.echo(parameter_table(configs))


def _ints(name):
    def parse(ctx, param, value):
        try:
            return [v.strip() if v.strip() == "all" else int(v) for v in value.split(",")]
        except ValueError:
            raise PyrossError(f"{name} must be whole numbers separated by commas, not {value!r}") from None
    return parse


@main.command("experiment")
@click.argument("kind", type=click.Choice(["labels", "unlabelled"]))
@click.option("--models", default="m2", show_default=True, callback=_names(MODELS),
              help="models to compare, separated by commas (those that classify)")
@click.option("--labels", default="100,600,1000,3000", show_default=True, callback=_ints("--labels"),
              help="numbers of labels (for 'unlabelled': the first is used)")
@click.option("--unlabelled", default="0,100,1000,10000,49900", show_default=True, callback=_ints("--unlabelled"),
              help="'unlabelled' only: numbers of unlabelled images")
@click.option("--seeds", default="0", show_default=True, callback=_ints("--seeds"), help="seeds, e.g. 0,1,2")
@click.option("--preset", help="a preset every model has (see 'models --defaults'), e.g. pi; "
                                "--epochs overrides it")
@click.option("--epochs", type=int, help="epochs of every run  [default: each model's]")
@click.option("--steps-per-epoch", type=int,
              help="steps of an epoch  [default: one pass for 'labels'; 500 for 'unlabelled', so that every "
                   "run takes as many steps]")
@click.option("--dataset", default="mnist", show_default=True)
@click.option("--data-dir", help="folder with the dataset in torchvision's raw layout")
@click.option("--out", help="experiment folder; run again with the same --out to resume  "
                            "[default: runs/experiment-<kind>]")
@click.option("--smoke", is_flag=True, help="a quick check: tiny networks, one epoch, unlabelled counts capped at 1,000")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="no progress bars")
def experiment(kind, models, labels, unlabelled, seeds, preset, epochs, steps_per_epoch, dataset, data_dir, out,
               smoke, device, quiet):
    """Accuracy against the number of labels (the paper's Table 1) or of unlabelled images
    (seed 000's figure): trains every run (skipping finished ones), writes table.md and accuracy.png."""
    for model in models:
        if model not in CLASSIFIERS:
            raise PyrossError(f"{model} does not classify; --models takes {', '.join(CLASSIFIERS)}")
        if preset is not None:
            new_config(model, preset)  # a model without this preset fails here, before any training
    _check_positive(epochs=epochs, steps_per_epoch=steps_per_epoch)
    device = resolve_device(device)
    data_set = get_dataset(dataset, data_dir)  # a bad dataset or label count fails here, before any training
    for count in labels:
        select_labelled(data_set.train.y, count, data_set.num_classes, 0)
    if kind == "labels":
        cells = [(m, n, "all", s) for m in models for n in labels for s in seeds]
    else:
        if steps_per_epoch is None:
            steps_per_epoch = 5 if smoke else 500
        cells = [(m, labels[0], u, s) for m in models for u in unlabelled for s in seeds]
    out = out or os.path.join("runs", f"experiment-{kind}")
    options = {"dataset": dataset, "data_dir": data_dir, "epochs": epochs, "steps_per_epoch": steps_per_epoch}
    results = run_grid(out, cells, options, device, smoke, progress=not quiet,
                       echo=lambda message: click.echo(message, err=True), preset=preset)
    key = "labels" if kind == "labels" else "unlabelled"
    paper = kind == "labels" and dataset == "mnist"
    table = error_table(results, key, paper=paper)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(f"Test error (%) on {dataset}{f' (--preset {preset})' if preset else ''}, mean ± sd over seeds "
                f"{', '.join(map(str, seeds))}\n\n{table}\n")
    points = {m: [(0 if n == "all" else n, a, sd) for n, a, sd in p] for m, p in accuracy_points(results, key).items()}
    reported = paper_points(models, labels) if paper else {}
    xlabel = "labelled training images" if kind == "labels" else f"unlabelled images ({labels[0]} labels)"
    plots().plot_accuracy_lines({**points, **reported}, xlabel, os.path.join(out, "accuracy.png"),
                                styles=paper_styles(models, reported),
                                title=f"{dataset}: {', '.join(models)}{f' --preset {preset}' if preset else ''}")
    click.echo(table)
    click.echo(f"wrote {os.path.join(out, 'table.md')} and {os.path.join(out, 'accuracy.png')}")


FIGURES = ("generate", "style-transfer", "traversal", "latent", "reconstructions", "curves", "latent-walk",
           "intervention")


@main.command("figure")
@click.argument("kind", type=click.Choice(FIGURES))
@click.argument("run_dir")
@click.option("--out", help="PNG file  [default: RUN_DIR/<kind>.png]")
@click.option("--rows", default=8, show_default=True, type=int, help="generate, style-transfer, reconstructions, intervention")
@click.option("--label", default=4, show_default=True, type=int, help="traversal: the class drawn")
@click.option("--dims", default="0,1", show_default=True, help="traversal: the two dimensions of z swept")
@click.option("--steps", default=11, show_default=True, type=int,
              help="traversal: grid points per dimension; latent-walk: images per row")
@click.option("--seed", default=0, show_default=True, type=int, help="which styles and test images")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--data-dir", help="folder with the dataset (default: the run's)")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
def figure(kind, run_dir, out, rows, label, dims, steps, seed, checkpoint, data_dir, device):
    """Draw a picture of RUN_DIR: conditional generation (generate), style transfer, a latent
    traversal, the latent space, reconstructions, or the training curves; writes a PNG."""
    run = Run.open(run_dir)
    out = out or run.file(f"{kind}.png")
    _check_positive(rows=rows, steps=steps)
    if kind == "curves":
        metrics = run.metrics()
        if not metrics:
            raise PyrossError(f"{run_dir!r} has no finished epoch in metrics.jsonl yet")
        plots().plot_curves(metrics, out, title=f"{run.config['model']}: {run_dir}")
        click.echo(f"wrote {out}")
        return
    device = resolve_device(device)
    net, names, shape = load_trained(run, device, BEST if checkpoint == "best" else LAST)
    generator = torch.Generator().manual_seed(seed)
    as_images = lambda t: t.reshape(*t.shape[:-1], *shape)  # noqa: E731
    if kind in ("style-transfer", "latent", "reconstructions", "latent-walk", "intervention"):
        test = dataset_of(run.config, data_dir).test
        pick = torch.randperm(len(test), generator=generator)
        x = test.x[pick[:rows]].to(device)
    multilabel, ccvae = getattr(net, "multilabel", False), hasattr(net, "characteristic_prior")
    model = run.config["model"]
    numbered = lambda what, n: [f"{what} {i + 1}" for i in range(n)]  # noqa: E731
    if kind == "generate":
        plots().plot_image_grid(as_images(conditional_generation(net, rows, generator)), out,
                        title=f"{model}: images generated for each {'attribute' if multilabel else 'class'}",
                        rows=numbered("style", rows), cols=["none", *names] if multilabel else list(names),
                        row_title="style z_s ~ p(z_s)" if ccvae else "style z ~ p(z)",
                        col_title="the attribute on, alone (z_c at its prior mean)" if multilabel else
                        "class y (z_c at the mean of p(z_c | y))" if ccvae else "class y")
    elif kind == "latent-walk":
        values = walk_values(net, steps)
        located = net.characteristic_prior()[0][1].tolist()  # where "class i" sits on z_c[i]
        plots().plot_image_grid(as_images(latent_walk(net, x[0], steps)), out,
                        title=f"{model}: one test image, each characteristic dimension swept",
                        rows=[f"z_c[{i}] {name} ({name} at {loc:.1f})" for i, (name, loc) in
                              enumerate(zip(names, located))],
                        row_title="the dimension swept (the rest of z kept)",
                        col_title="z_c[i] (its value in each corner) from 2 prior sd below p(z_c[i] | y_i) to 2 above",
                        cell_text=[[f"{v:.1f}" for v in row] for row in values.tolist()])
    elif kind == "intervention":
        swapped = [f"flip {name}" for name in names] if multilabel else [f"y = {name}" for name in names]
        plots().plot_image_grid(as_images(intervention(net, x, generator)), out,
                        title=f"{model}: test images with their characteristics changed",
                        rows=numbered("test image", rows), cols=["image", "reconstruction", *swapped],
                        col_title="attribute i flipped: z_c[i] ~ p(z_c[i] | the other value), the rest kept"
                        if multilabel else "z_c ~ p(z_c | y), the image's own style z_s kept")
    elif kind == "style-transfer":
        plots().plot_image_grid(as_images(style_transfer(net, x)), out,
                        title=f"{model}: every class in the style of a test image",
                        rows=numbered("test image", rows), cols=["image", *names],
                        col_title="class y, with the image's style z ~ q(z | x, y = predicted class)")
    elif kind == "traversal":
        try:
            d = tuple(int(v) for v in dims.split(","))
        except ValueError:
            raise PyrossError(f"--dims must be two dimensions of z, e.g. 0,1; not {dims!r}") from None
        axis = [f"{v:.1f}" for v in torch.linspace(-TRAVERSAL_EXTENT, TRAVERSAL_EXTENT, steps).tolist()]
        plots().plot_image_grid(as_images(traversal(net, label, d, steps, TRAVERSAL_EXTENT)), out,
                        title=f"{model}: class {names[label]}, two dimensions of z swept, the rest 0",
                        rows=axis[::-1], cols=axis, row_title=f"z[{d[1]}]", col_title=f"z[{d[0]}]")
    elif kind == "latent":
        z, axes = latent_points(net, test.x.to(device))
        plots().plot_latent_scatter(z, test.y, names, out, title=f"test images: latent means ({axes})")
    else:
        plots().plot_image_grid(as_images(reconstructions(net, x)).transpose(0, 1), out,
                        title=f"{model}: test images and their reconstructions",
                        rows=["image", "reconstruction"], cols=numbered("test image", rows),
                        row_title="mean of p(x | z) at the latent mean" if not multilabel else None)
    click.echo(f"wrote {out}")


@main.command("intervention-score")
@click.argument("ccvae_run")
@click.argument("judge_run")
@click.option("--images", default=1000, show_default=True, type=int, help="test images intervened on")
@click.option("--seed", default=0, show_default=True, type=int, help="which test images, and the draws of z_c")
@click.option("--data-dir", help="folder with the dataset (default: the CCVAE run's)")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
def intervention_score_cmd(ccvae_run, judge_run, images, seed, data_dir, device):
    """Set each test image's class to every class in turn (CCVAE_RUN: z_c ~ p(z_c | y=k), z_s
    kept) and report how often JUDGE_RUN, a classifier trained separately, reads the intended class."""
    _check_positive(images=images)
    device = resolve_device(device)
    run = Run.open(ccvae_run)
    net, names, _ = load_trained(run, device)
    if run.config["model"] != "ccvae":
        raise PyrossError(f"{ccvae_run!r} is a {run.config['model']} run, not a ccvae run")
    judge, judge_names, _ = load_classifier(Run.open(judge_run), device)
    if list(judge_names) != list(names):
        raise PyrossError(f"{judge_run!r} classifies other classes than {ccvae_run!r}")
    generator = torch.Generator().manual_seed(seed)
    test = dataset_of(run.config, data_dir).test
    pick = torch.randperm(len(test), generator=generator)[:images]
    rates = intervention_score(net, judge, test.images(pick).to(device), generator)
    if net.multilabel:
        click.echo("| attribute flipped | read as flipped | flipped, the others kept |\n| --- | ---: | ---: |")
        for name, (changed, clean) in zip(names, rates.T.tolist()):
            click.echo(f"| {name} | {100 * changed:.1f} % | {100 * clean:.1f} % |")
        changed, clean = rates.mean(1).tolist()
        click.echo(f"| **mean** | **{100 * changed:.1f} %** | **{100 * clean:.1f} %** |")
        return
    click.echo("| target class | read as intended |\n| --- | ---: |")
    for name, rate in zip(names, rates.tolist()):
        click.echo(f"| {name} | {100 * rate:.1f} % |")
    click.echo(f"| **mean** | **{100 * rates.mean().item():.1f} %** |")


@main.command("predict")
@click.argument("run_dir")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", type=click.Path(dir_okay=False), help="CSV file to write  [default: stdout]")
@click.option("--top-k", default=1, show_default=True, type=int, help="also name the next K-1 likeliest classes")
@click.option("--batch-size", default=256, show_default=True, type=int)
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="no progress bar")
def predict_cmd(run_dir, inputs, out, top_k, batch_size, device, quiet):
    """Classify images (files or folders) with RUN_DIR's best checkpoint; writes CSV: path,
    predicted class, one probability per class."""
    _check_positive(top_k=top_k, batch_size=batch_size)
    device = resolve_device(device)
    net, names, shape = load_classifier(Run.open(run_dir), device)
    if top_k > len(names):
        raise PyrossError(f"--top-k {top_k} is more than the {len(names)} classes")
    paths = input_paths(inputs)
    rows = predict_rows(net, names, shape, paths, top_k, batch_size, device, progress=not quiet)
    if out is None:
        write_csv(rows, names, top_k, sys.stdout)
        return
    with open(f"{out}.tmp", "w", newline="") as f:
        write_csv(rows, names, top_k, f)
    os.replace(f"{out}.tmp", out)
    click.echo(f"wrote {len(paths)} rows to {out}", err=True)


@main.command()
@click.argument("run_dirs", nargs=-1, required=True)
@click.option("--plot", "plot_path", help="also draw the validation curves of RUN_DIRS into this PNG")
@click.option("--title", default="", help="--plot: the title of the picture")
def report(run_dirs, plot_path, title):
    """Print a markdown table of RUN_DIRS: options, accuracy curve, best epoch, test accuracy."""
    if plot_path and not plot_path.lower().endswith(".png"):
        raise PyrossError(f"--plot writes a PNG: give a file name ending in .png, not {plot_path!r}")
    click.echo(runs_table(run_dirs))
    if plot_path:
        ylabel, curves = validation_curves(run_dirs)
        os.makedirs(os.path.dirname(plot_path) or ".", exist_ok=True)
        plots().plot_validation_curves(curves, plot_path, ylabel, title)
        click.echo(f"wrote {plot_path}", err=True)
