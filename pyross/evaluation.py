"""Classification metrics of a trained model on a labelled split."""
import torch


@torch.no_grad()
def predict(model, x, batch_size=1000):
    """Class predictions argmax q(y | x) for images ``x`` (grey levels, not binarised).

    The classifier is trained on binarised images; its first layer is linear, so feeding the
    intensities gives the expected pre-activation over binarisations.
    Batch norm layers use their running statistics (``eval`` mode) during the call.
    """
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model.classifier(xb).argmax(-1) for xb in x.split(batch_size)])
    finally:
        model.train(was_training)


def accuracy(model, split):
    """Fraction of ``split`` classified correctly."""
    return (predict(model, split.x) == split.y).float().mean().item()


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts ``C[i, j]`` of images of true class ``i`` predicted as ``j``."""
    flat = y_true.long().cpu() * num_classes + y_pred.long().cpu()
    return torch.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)
