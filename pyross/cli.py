"""The ``pyross`` command line: ``fit``, ``evaluate``, ``models``.

Every bad input ends in one line ``Error: ...`` on stderr and exit status 2, before any file
is written.
"""
import datetime
import os
import platform
import sys

import click
import pyro
import torch

from . import __version__
from .data import DATASETS, SemiSupervisedData, get_dataset
from .errors import PyrossError
from .evaluation import accuracy, confusion_matrix, predict
from .models import MODELS, get_model_class
from .plots import plot_confusion_matrix
from .report import runs_table
from .runs import BEST, CONFIG, LAST, Run
from .train import Trainer

#: epochs of a new run when --epochs is not given (--epochs has no click default so that
#: ``--resume`` can tell whether it was given)
DEFAULT_EPOCHS = 6


def _count_or_all(name):
    def parse(ctx, param, value):
        if value is None or value == "all":
            return value
        try:
            return int(value)
        except ValueError:
            raise PyrossError(f"{name} must be a whole number or 'all', not {value!r}") from None
    return parse


def _hidden(ctx, param, value):
    try:
        sizes = [int(v) for v in value.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) <= 0:
        raise PyrossError(f"--{param.name.replace('_', '-')} must be positive layer sizes separated by commas, "
                          f"e.g. 500,500; not {value!r}")
    return sizes


def resolve_device(name):
    """``"auto"`` → ``"cuda"`` if a GPU is visible, else ``"cpu"``; checks ``"cuda"`` exists."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise PyrossError("--device cuda: no CUDA GPU is visible to PyTorch (use --device cpu or auto)")
    return name


def build_model(config, dataset):
    """Instantiate the model a run's ``config`` describes, for ``dataset``."""
    cls = get_model_class(config["model"])
    return cls(x_dim=dataset.x_dim, num_classes=dataset.num_classes, image_shape=dataset.image_shape,
               **config["model_options"])


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
def models_cmd():
    """List the models."""
    for name, (_, description) in MODELS.items():
        click.echo(f"{name:6s} {description}")


@main.command()
@click.argument("model")
@click.option("--dataset", default="mnist", show_default=True, help=f"one of: {', '.join(DATASETS)}")
@click.option("--labels", default="100", show_default=True, callback=_count_or_all("--labels"),
              help="labelled training images (a multiple of the classes) or 'all'")
@click.option("--unlabelled", default="all", show_default=True, callback=_count_or_all("--unlabelled"),
              help="unlabelled training images to use, or 'all'")
@click.option("--alpha", default=0.5, show_default=True, type=float,
              help="Kingma's alpha: weight of the classifier term (0.1 in the paper)")
@click.option("--epochs", type=int,
              help=f"epochs (passes over the unlabelled images)  [default: {DEFAULT_EPOCHS}]")
@click.option("--batch-size", default=100, show_default=True, type=int)
@click.option("--lr", default=3e-4, show_default=True, type=float, help="Adam learning rate")
@click.option("--z-dim", default=2, show_default=True, type=int, help="dimension of z")
@click.option("--hidden", default="200,200", show_default=True, callback=_hidden,
              help="hidden layer sizes of q(z|x,y), and of the other networks unless given, e.g. 500 or 500,500")
@click.option("--classifier", type=click.Choice(["mlp", "cnn"]), default="cnn", show_default=True,
              help="network of q(y|x): MLP (as in the paper) or a small CNN")
@click.option("--classifier-hidden", default="256", show_default=True, callback=_hidden,
              help="hidden sizes of q(y|x) (after the convolutions for the CNN)")
@click.option("--decoder-hidden", default="200,400,600", show_default=True, callback=_hidden,
              help="hidden sizes of p(x|y,z)")
@click.option("--activation", type=click.Choice(["softplus", "relu", "tanh"]), default="relu",
              show_default=True)
@click.option("--batch-norm", type=click.Choice(["none", "classifier", "all"]), default="all", show_default=True,
              help="which networks batch-normalise their hidden layers")
@click.option("--augment", default=3, show_default=True, type=int,
              help="shift each labelled image by up to this many pixels (data augmentation)")
@click.option("--augment-unlabelled/--no-augment-unlabelled", default=False, show_default=True,
              help="shift the unlabelled images too")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
@click.option("--data-dir", help="folder with the dataset in torchvision's raw layout")
@click.option("--out", help="run folder  [default: runs/<model>-<timestamp>]")
@click.option("--overwrite", is_flag=True, help="replace an existing --out folder")
@click.option("--resume", "resume_dir", help="continue the run in this folder (its options are kept)")
@click.option("--quiet", is_flag=True, help="no progress bar")
def fit(model, dataset, labels, unlabelled, alpha, epochs, batch_size, lr, z_dim, hidden, classifier,
        classifier_hidden, decoder_hidden, activation, batch_norm, augment, augment_unlabelled, seed, device,
        data_dir, out, overwrite, resume_dir, quiet):
    """Train MODEL and write a run folder."""
    if resume_dir is not None:
        run = Run.open(resume_dir)
        config = run.config
        _check_positive(epochs=epochs)
        config["epochs"] = epochs or config["epochs"]
    else:
        get_model_class(model)
        if alpha < 0:
            raise PyrossError(f"--alpha must be >= 0, not {alpha}")
        _check_positive(epochs=epochs, batch_size=batch_size, lr=lr, z_dim=z_dim)
        if augment < 0:
            raise PyrossError(f"--augment must be >= 0, not {augment}")
        config = {
            "model": model, "dataset": dataset, "labels": labels, "unlabelled": unlabelled,
            "alpha": alpha, "epochs": epochs or DEFAULT_EPOCHS, "batch_size": batch_size, "lr": lr, "augment": augment,
            "augment_unlabelled": augment_unlabelled, "seed": seed, "data_dir": data_dir,
            "model_options": {"z_dim": z_dim, "hidden": hidden, "classifier": classifier,
                              "classifier_hidden": classifier_hidden,
                              "decoder_hidden": decoder_hidden, "activation": activation,
                              "batch_norm": batch_norm},
        }
    device = resolve_device(device)
    data_set = get_dataset(config["dataset"], data_dir or config["data_dir"])
    pyro.set_rng_seed(config["seed"])
    data = SemiSupervisedData.from_dataset(data_set, config["labels"], config["seed"],
                                           config["unlabelled"], device)
    net = build_model(config, data_set).to(device)
    if resume_dir is None:
        out = out or os.path.join("runs", f"{model}-{datetime.datetime.now():%Y%m%d-%H%M%S}")
        config.update(data_source=data_set.source, n_labelled=len(data.labelled),
                      n_unlabelled=len(data.unlabelled), pyross=__version__, torch=torch.__version__,
                      pyro=pyro.__version__, machine=f"{platform.node()} {platform.machine()}, "
                      f"{os.cpu_count()} CPUs, {device}")
        run = Run.create(out, config, overwrite)
    pyro.clear_param_store()
    trainer = Trainer(net, data, run, config["alpha"], config["batch_size"], config["lr"], config["seed"],
                      config["augment"], data_set.image_shape, config["augment_unlabelled"],
                      progress=not quiet)
    if resume_dir is not None:
        trainer.resume()
        run.write_json(CONFIG, config)  # with the new number of epochs
    click.echo(f"{config['model']} on {config['dataset']} ({data_set.source}): {len(data.labelled)} labelled, "
               f"{len(data.unlabelled)} unlabelled, {trainer.steps_per_epoch} steps per epoch, "
               f"device {device}; run folder {run.path}", err=True)
    summary = trainer.fit(config["epochs"])
    click.echo(f"best validation accuracy {summary['valid_accuracy']:.4f} at epoch {summary['best_epoch']}; "
               f"its test accuracy {summary['test_accuracy']:.4f} ({summary['seconds_per_epoch']} s per epoch)")


@main.command()
@click.argument("run_dir")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--data-dir", help="folder with the dataset (default: the run's)")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
def evaluate(run_dir, checkpoint, data_dir, device):
    """Test accuracy of RUN_DIR's checkpoint; writes confusion_matrix.png into RUN_DIR."""
    run = Run.open(run_dir)
    config = run.config
    device = resolve_device(device)
    data_set = get_dataset(config["dataset"], data_dir or config["data_dir"])
    net = build_model(config, data_set).to(device)
    state = run.restore(net, BEST if checkpoint == "best" else LAST, device=device)
    test = data_set.test.to(device)
    acc = accuracy(net, test)
    counts = confusion_matrix(test.y, predict(net, test.x), data_set.num_classes)
    path = run.file("confusion_matrix.png")
    plot_confusion_matrix(counts, data_set.class_names, path,
                          title=f"{config['model']}, {config['labels']} labels: test accuracy {acc:.4f}")
    click.echo(f"test accuracy {acc:.4f} ({checkpoint} checkpoint, epoch {state['epoch']}); wrote {path}")


@main.command()
@click.argument("run_dirs", nargs=-1, required=True)
def report(run_dirs):
    """Print a markdown table of RUN_DIRS: options, accuracy curve, best epoch, test accuracy."""
    click.echo(runs_table(run_dirs))
