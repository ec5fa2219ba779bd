"""Classification metrics of a trained model on a labelled split."""
import torch

#: images per forward pass when evaluating. At 1,000, the CNN classifier's activations on the
#: validation set raised the peak memory of a default ``fit m2`` by 31 MiB above that of its
#: training steps; at 500 they stay below it, and the pass over 10,000 images is no slower
#: (docs/performance.md, "Memory").
BATCH = 500


@torch.no_grad()
def predict(model, x, batch_size=BATCH):
    """Class predictions argmax q(y | x) for images ``x`` (grey levels, not binarised); for a
    multi-label model the attributes whose probability is above 1/2, ``(N, L)``.

    The classifier is trained on binarised images; its first layer is linear, so feeding the
    intensities gives the expected pre-activation over binarisations.
    Batch norm layers use their running statistics (``eval`` mode) during the call.
    """
    was_training = model.training
    model.eval()
    try:
        decide = (lambda logits: (logits > 0).long()) if getattr(model, "multilabel", False) else (
            lambda logits: logits.argmax(-1))
        return torch.cat([decide(model.classifier(xb)) for xb in x.split(batch_size)])
    finally:
        model.train(was_training)


def accuracy(model, split, batch_size=BATCH):
    """Fraction of ``split`` classified correctly (multi-label: of its attributes, over all images),
    its images converted to floats a batch at a time (:meth:`~pyross.data.dataset.Split.batches`)."""
    right = sum((predict(model, x, batch_size) == y).sum().item() for x, y in split.batches(batch_size))
    return right / split.y.numel()


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts ``C[i, j]`` of images of true class ``i`` predicted as ``j``."""
    flat = y_true.long().cpu() * num_classes + y_pred.long().cpu()
    return torch.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


@torch.no_grad()
def intervention_score(net, judge, x, generator, batch_size=500):
    """How well CCVAE's interventions change the class, as read by a separately trained
    classifier ``judge`` (e.g. an FF run): every image of ``x`` is decoded once per class ``k``
    with ``z_c ~ p(z_c | y = k)`` and its own ``z_s`` (:func:`pyross.figures.intervention`).

    For binary attributes, image ``i`` of each row flips attribute ``i`` from what CCVAE reads
    (:func:`pyross.figures.intervention`); it counts as changed when ``judge`` reads the flipped
    value, and as clean when, besides, ``judge`` reads every other attribute as on the original image.

    :returns: per target class, the fraction of its intervened images ``judge`` reads as that
        class, ``(K,)``; for binary attributes, the fractions changed and clean, ``(2, L)``.
    """
    from .figures import intervention

    hits = 0
    for xb in x.split(batch_size):
        swapped = intervention(net, xb, generator)[:, 2:]  # (B, K, D): drop the image and its reconstruction
        read = predict(judge, swapped.reshape(-1, swapped.shape[-1])).reshape(*swapped.shape[:2], -1).squeeze(-1)
        if not net.multilabel:
            hits = hits + (read == torch.arange(swapped.shape[1], device=read.device)).float().sum(0)
            continue
        eye = torch.eye(net.num_classes, dtype=torch.bool, device=read.device)
        intended = 1 - predict(net, xb)  # (B, L): the flipped attributes
        changed = read[:, eye] == intended  # (B, L): read[b, i, i]
        kept = (read == predict(judge, xb).unsqueeze(1)) | eye  # the other attributes as on the original
        hits = hits + torch.stack([changed, changed & kept.all(-1)]).float().sum(1)
    return hits / len(x)
