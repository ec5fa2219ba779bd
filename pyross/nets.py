"""Neural building blocks shared by the models.

Every network that reads several inputs (an image and a one-hot label, say) starts with a
:class:`JointLinear` layer: the linear map of the concatenation ``[x, y]`` written as the sum
``W_x x + W_y y + b``. Written this way the inputs *broadcast*: when Pyro enumerates the 10
values of ``y`` (shape ``(10, 1, 10)``) against a batch ``x`` (shape ``(B, 784)``), ``W_x x`` is
computed once for the batch and only the small ``W_y y`` term is computed per class.
"""
import torch
from torch import nn
from torch.nn import functional as F

from .fastmath import ReLU, Softplus, softplus

ACTIVATIONS = {"relu": ReLU, "softplus": Softplus, "tanh": nn.Tanh}


class JointLinear(nn.Module):
    """Linear layer on the concatenation of several inputs, which may broadcast.

    :param in_dims: the size of each input.
    :param int out_dim: output size.
    """

    def __init__(self, in_dims, out_dim):
        super().__init__()
        self.parts = nn.ModuleList(nn.Linear(d, out_dim, bias=(i == 0)) for i, d in enumerate(in_dims))

    def forward(self, *inputs):
        out = self.parts[0](inputs[0])
        for part, x in zip(self.parts[1:], inputs[1:]):
            out = out + part(x)
        return out


class BatchNorm(nn.BatchNorm1d):
    """Batch normalisation over all leading dimensions (batch and any enumeration dims)."""

    def forward(self, h):
        return super().forward(h.reshape(-1, h.shape[-1])).reshape(h.shape)


class MLP(nn.Module):
    """A multi-layer perceptron ``inputs → hidden[0] → ... → hidden[-1] → out_dim``.

    Each hidden layer is linear, optionally batch-normalised, then the activation; the
    output layer is linear with no activation (logits, locations, ...).

    :param in_dims: sizes of the inputs, joined by :class:`JointLinear`.
    :param hidden: sizes of the hidden layers (at least one).
    :param int out_dim: output size.
    :param str activation: a key of :data:`ACTIVATIONS`.
    :param bool batch_norm: batch-normalise the hidden layers.
    """

    def __init__(self, in_dims, hidden, out_dim, activation="softplus", batch_norm=False):
        super().__init__()
        hidden = list(hidden)
        self.input = JointLinear(in_dims, hidden[0])
        layers = []
        for i, width in enumerate(hidden):
            if batch_norm:
                layers.append(BatchNorm(width))
            layers.append(ACTIVATIONS[activation]())
            layers.append(nn.Linear(width, hidden[i + 1] if i + 1 < len(hidden) else out_dim))
        self.body = nn.Sequential(*layers)

    def forward(self, *inputs):
        return self.body(self.input(*inputs))


class GaussianMLP(nn.Module):
    """An MLP whose output is the location and scale of a diagonal Gaussian.

    The last layer is linear for the location and softplus for the scale: no ReLU on the
    posterior parameters (a classic bug: it zeroes negative locations and kills gradients).

    :returns: ``(loc, scale)``, each of size ``out_dim``.
    """

    def __init__(self, in_dims, hidden, out_dim, activation="softplus", batch_norm=False):
        super().__init__()
        self.net = MLP(in_dims, hidden, 2 * out_dim, activation, batch_norm)

    def forward(self, *inputs):
        loc, raw_scale = self.net(*inputs).chunk(2, dim=-1)
        return loc, softplus(raw_scale) + 1e-4


class ConvClassifier(nn.Module):
    """A small convolutional network from flattened images to class logits.

    Two 5x5 convolutions with stride 2 (16 and 32 channels), each optionally batch-normalised
    and followed by the activation, then an MLP on the flattened feature maps. It reads only
    images (one input), so it serves as q(y | x), never as a network of enumerated inputs.

    :param tuple image_shape: ``(channels, height, width)`` of the flattened input.
    :param hidden: hidden sizes of the MLP after the convolutions.
    :param int out_dim: number of logits.
    """

    def __init__(self, image_shape, hidden, out_dim, activation="relu", batch_norm=True):
        super().__init__()
        self.image_shape = tuple(image_shape)
        layers, channels = [], self.image_shape[0]
        for width in (16, 32):
            layers.append(nn.Conv2d(channels, width, kernel_size=5, stride=2, padding=2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(ACTIVATIONS[activation]())
            channels = width
        self.conv = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            n_features = self.conv(torch.zeros(1, *self.image_shape)).shape[-1]
        self.mlp = MLP([n_features], hidden, out_dim, activation, batch_norm)

    def forward(self, x):
        return self.mlp(self.conv(x.reshape(-1, *self.image_shape)))


class ConvGaussianEncoder(nn.Module):
    """Images ``(C, H, W)`` (H and W multiples of 16, e.g. CelebA's 64x64) to the location and
    scale of a diagonal Gaussian: four 4x4 convolutions of stride 2 (32, 32, 64, 64 channels),
    each followed by the activation, then a linear layer.

    :param tuple image_shape: ``(C, H, W)`` of the flattened input.
    :param int out_dim: size of the Gaussian.
    """

    def __init__(self, image_shape, out_dim, activation="relu"):
        super().__init__()
        self.image_shape = tuple(image_shape)
        layers, channels = [], self.image_shape[0]
        for width in (32, 32, 64, 64):
            layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), ACTIVATIONS[activation]()]
            channels = width
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.out = nn.Linear(64 * (self.image_shape[1] // 16) * (self.image_shape[2] // 16), 2 * out_dim)

    def forward(self, x):
        h = self.out(self.conv(x.reshape(-1, *self.image_shape))).reshape(*x.shape[:-1], -1)
        loc, raw_scale = h.chunk(2, dim=-1)
        return loc, softplus(raw_scale) + 1e-4


class ConvDecoder(nn.Module):
    """The mirror of :class:`ConvGaussianEncoder`: inputs (joined by :class:`JointLinear`) to
    64 feature maps of ``H/16 x W/16``, then four 4x4 transposed convolutions of stride 2 (64,
    32, 32, C channels) to flattened image logits ``(..., C*H*W)``."""

    def __init__(self, in_dims, image_shape, activation="relu"):
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        self.grid = (64, h // 16, w // 16)
        self.input = JointLinear(in_dims, 64 * (h // 16) * (w // 16))
        layers = [ACTIVATIONS[activation]()]
        for channels, width in ((64, 64), (64, 32), (32, 32), (32, c)):
            layers += [nn.ConvTranspose2d(channels, width, 4, stride=2, padding=1), ACTIVATIONS[activation]()]
        self.deconv = nn.Sequential(*layers[:-1])  # no activation on the logits

    def forward(self, *inputs):
        h = self.input(*inputs)
        return self.deconv(h.reshape(-1, *self.grid)).reshape(*h.shape[:-1], -1)


def make_classifier(kind, x_dim, image_shape, hidden, num_classes, activation="relu", batch_norm=True):
    """The network of a classifier from flattened images to class logits.

    :param str kind: ``"mlp"`` (permutation-invariant, as in the paper) or ``"cnn"``
        (:class:`ConvClassifier`).
    :param int x_dim: size of a flattened image (for the MLP).
    :param tuple image_shape: ``(channels, height, width)`` of the images (for the CNN).
    """
    if kind == "cnn":
        return ConvClassifier(image_shape, hidden, num_classes, activation, batch_norm)
    return MLP([x_dim], hidden, num_classes, activation, batch_norm)


def one_hot(y, num_classes):
    """One-hot float encoding of integer labels ``y`` (any shape, e.g. enumerated)."""
    return F.one_hot(y.long(), num_classes).to(torch.get_default_dtype())
