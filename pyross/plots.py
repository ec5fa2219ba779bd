"""Figures, saved as PNG (matplotlib, headless)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_confusion_matrix(counts, class_names, path, title=""):
    """Save the confusion matrix ``counts`` (true class by row) as a PNG at ``path``."""
    counts = counts.cpu().numpy()
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * k, 1.0 + 0.5 * k), dpi=100)
    ax.imshow(counts, cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(k), class_names)
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_attribute_confusions(counts, names, path, title=""):
    """Save one 2x2 confusion matrix per binary attribute (``counts`` ``(L, 2, 2)``, true value by
    row), side by side as heatmaps of the fraction of each true value."""
    counts = counts.cpu().numpy()
    fig, axes = plt.subplots(1, len(names), figsize=(1.6 * len(names) + 0.5, 2.4), dpi=100, squeeze=False)
    for ax, matrix, name in zip(axes[0], counts, names):
        rates = matrix / matrix.sum(1, keepdims=True).clip(min=1)
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        for i in range(2):
            for j in range(2):
                ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
        ax.set_xticks([0, 1], ["0", "1"])
        ax.set_yticks([0, 1], ["0", "1"])
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
    axes[0][0].set_ylabel("true", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_latent_scatter(z, labels, class_names, path, title=""):
    """Save a scatter plot of 2-D points ``z`` (e.g. latent means), coloured by ``labels``."""
    z, labels = z.cpu().numpy(), labels.cpu().numpy()
    fig, ax = plt.subplots(figsize=(6.5, 5.5), dpi=100)
    cmap = plt.get_cmap("tab10")
    for c, name in enumerate(class_names):
        ax.scatter(*z[labels == c].T, s=2, color=cmap(c % 10), label=name, rasterized=True)
    ax.legend(markerscale=5, fontsize=7, loc="upper right")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


#: the side, in pixels, at which each image of a grid is drawn: 28x28 digits three times over, big
#: enough to read on a slide
CELL = 84


def image_grid_figure(images, title="", rows=None, cols=None, row_title=None, col_title=None, cell_text=None):
    """A figure of a grid of images, every row and column named.

    :param images: ``(rows, cols, H, W)`` grey or ``(rows, cols, C, H, W)`` with C = 1 or 3,
        values in [0, 1].
    :param rows: one label per row (on the left), e.g. class names or the values a latent takes.
    :param cols: one label per column (on top).
    :param row_title: what the rows are, e.g. ``"class y"``, beside the row labels.
    :param col_title: what the columns are, above the column labels.
    :param cell_text: ``rows`` lists of ``cols`` strings, written small in each image's corner
        (e.g. the value a latent dimension takes there, when it differs from row to row).
    :returns: the :class:`matplotlib.figure.Figure`.
    """
    if images.dim() == 4:
        images = images.unsqueeze(2)
    n_rows, n_cols, c, h, w = images.shape
    mosaic = images.detach().cpu().clamp(0, 1).permute(0, 3, 1, 4, 2).reshape(n_rows * h, n_cols * w, c).numpy()
    scale = CELL / max(h, w) / 100  # inches per image pixel at 100 dpi
    fig = plt.figure(figsize=(n_cols * w * scale, n_rows * h * scale), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(mosaic[..., 0] if c == 1 else mosaic, cmap="gray", vmin=0, vmax=1, extent=(0, n_cols, n_rows, 0),
              interpolation="nearest")
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    slanted = bool(cols) and max(len(str(v)) for v in cols) > 8  # long names would run into each other
    ax.set_xticks([j + 0.5 for j in range(n_cols)], cols or [], fontsize=10, rotation=30 if slanted else 0,
                  ha="left" if slanted else "center", rotation_mode="anchor")
    ax.set_yticks([i + 0.5 for i in range(n_rows)], rows or [], fontsize=10)
    ax.tick_params(length=0)
    ax.set_xlabel(col_title or "", fontsize=11)
    ax.set_ylabel(row_title or "", fontsize=11)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for i, line in enumerate(cell_text or []):
        for j, text in enumerate(line):
            ax.text(j + 0.04, i + 0.96, text, fontsize=8, color="yellow", ha="left", va="bottom")
    ax.set_title(title, fontsize=12)  # placed above the column labels and their title
    return fig


def save_figure(fig, path):
    """Save ``fig`` as a PNG at ``path``, cropped to what it draws (labels and titles included)."""
    fig.savefig(path, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)


def plot_image_grid(images, path, title="", **labels):
    """Save a grid of images as one PNG: :func:`image_grid_figure` (``labels``: its ``rows``,
    ``cols``, ``row_title``, ``col_title``, ``cell_text``), saved by :func:`save_figure`."""
    save_figure(image_grid_figure(images, title, **labels), path)


def plot_accuracy_lines(lines, xlabel, path, title="", styles=None):
    """Save test accuracy against a count (log scale; 0 is drawn at the left edge), one line per
    key of ``lines``: ``{label: [(count, accuracy, sd), ...]}``, with the sd as error bars.

    :param styles: ``{label: matplotlib keyword arguments}`` for some lines.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    counts = sorted({n for points in lines.values() for n, _, _ in points})
    ax.set_xscale("symlog", linthresh=max(min((n for n in counts if n > 0), default=1), 1))
    for label, points in lines.items():
        n, mean, sd = zip(*sorted(points))
        style = {"marker": "o", **(styles or {}).get(label, {})}
        ax.errorbar(n, mean, yerr=sd if any(sd) else None, capsize=3, label=label, **style)
    ax.set_xticks(counts, [f"{n:,}" for n in counts])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_accuracy_vs_labels(results, path, title=""):
    """Save test accuracy against the number of labels from
    :func:`pyross.representations.run_study` results: line style by representation, colour and
    marker by classifier."""
    linestyles = {"vae": "-", "dae": "--", "pixels": ":"}
    classifiers = list(dict.fromkeys(r["classifier"] for r in results))
    lines, styles = {}, {}
    for r in results:
        label = f"{r['representation']} + {r['classifier']}"
        lines.setdefault(label, []).append((r["n_labelled"], r["test_accuracy"], 0.0))
        k = classifiers.index(r["classifier"])
        styles[label] = {"linestyle": linestyles.get(r["representation"], "-"), "marker": "osD^v<>p"[k % 8],
                         "color": plt.get_cmap("tab10")(k % 10)}
    plot_accuracy_lines(lines, "labelled training images", path, title, styles)


def plot_validation_curves(curves, path, ylabel, title=""):
    """Save one line per run, its validation metric by epoch: ``curves`` is
    ``{label: [(epoch, value), ...]}`` (:func:`pyross.report.validation_curves`)."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for label, points in curves.items():
        if points:
            ax.plot(*zip(*points), marker="o" if len(points) <= 30 else None, markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=1 + len(curves) // 12)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_curves(metrics, path, title=""):
    """Save the loss and the validation/test accuracy (or loss) by epoch from ``metrics.jsonl`` records
    (the accuracy alone for a run with no training loss: M1's scikit-learn head is fitted in one go)."""
    epochs = [m["epoch"] for m in metrics]
    name = "accuracy" if "valid_accuracy" in metrics[0] else "loss"
    has_loss = "loss" in metrics[0]
    fig, axes = plt.subplots(1, 1 + has_loss, figsize=(4.5 * (1 + has_loss), 3.5), dpi=100, squeeze=False)
    axes, right = axes[0], axes[0][-1]
    if has_loss:
        axes[0].plot(epochs, [m["loss"] for m in metrics], marker="o")
        axes[0].set_ylabel("training loss (mean per step)")
    for split in ("valid", "test"):
        right.plot(epochs, [m[f"{split}_{name}"] for m in metrics], marker="o", label=split)
    right.set_ylabel(name)
    right.legend()
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
