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


def plot_image_grid(images, path, title="", extent=None):
    """Save a grid of images ``images``, ``(rows, cols, H, W)`` grey or ``(rows, cols, C, H, W)``
    with C = 1 or 3, values in [0, 1], as one picture.

    :param extent: ``(left, right, bottom, top)`` coordinates to label the axes with (e.g. the
        latent coordinates of a decoded grid); no axes when ``None``.
    """
    if images.dim() == 4:
        images = images.unsqueeze(2)
    rows, cols, c, h, w = images.shape
    mosaic = images.detach().cpu().clamp(0, 1).permute(0, 3, 1, 4, 2).reshape(rows * h, cols * w, c).numpy()
    fig, ax = plt.subplots(figsize=(cols * w / 100 + 1.0, rows * h / 100 + 0.8), dpi=100)  # about 1 pixel per pixel
    ax.imshow(mosaic[..., 0] if c == 1 else mosaic, cmap="gray", vmin=0, vmax=1, extent=extent,
              interpolation="nearest")
    if extent is None:
        ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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
