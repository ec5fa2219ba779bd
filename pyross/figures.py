r"""The pictures of a trained run (seeds 000, 001, 002), each a grid of images or a plot.

* :func:`conditional_generation` (seed 001): rows are styles z ~ p(z), columns the classes.
* :func:`style_transfer` (seeds 000, 001): the first column holds real test images; each row
  infers the style z of its image (q(z | x, y) at the predicted class) and renders every class in it.
* :func:`traversal` (seed 000): one class, all latent dimensions 0 but two, which sweep a grid.
* :func:`latent_points`: test-set latent means (2-D as they are, more dimensions through PCA).
* :func:`reconstructions`: test images beside the mean of p(x | z) at their latent means.

The first three need M2's decoder p(x | y, z); the last two work for M2 and the VAE. For
CCVAE (Joy et al. 2021), :func:`conditional_generation`, :func:`latent_points` and
:func:`reconstructions` work too, and two pictures are its own:

* :func:`latent_walk`: one test image; row :math:`i` sweeps its characteristic dimension
  :math:`z_{c,i}` from "not class :math:`i`" to "class :math:`i`", the rest of :math:`z` kept.
* :func:`intervention`: test images; column :math:`k` draws :math:`z_c \sim p(z_c \mid y = k)`
  and keeps the image's own :math:`z_s`: the characteristic is swapped, the style stays.
"""
import torch

from .errors import PyrossError
from .models import CCVAE, M2, VAE


def _require(net, cls, picture):
    if not isinstance(net, cls):
        raise PyrossError(f"{picture} needs a {cls.__name__} run (its model has a "
                          f"{'decoder p(x | y, z)' if cls is M2 else 'decoder p(x | z)'}), "
                          f"not {type(net).__name__}")


@torch.no_grad()
def conditional_generation(net, rows, generator):
    """``(rows, K, ...)`` images: row ``r`` is one style z ~ N(0, I), column ``k`` the class ``k``
    (CCVAE with binary attributes: ``(rows, 1 + L, ...)``, every attribute off, then each one on alone)."""
    if isinstance(net, CCVAE):  # z_c at the prior mean of each class (attributes: none, then each alone)
        z_s = torch.randn(rows, 1, net.z_dim, generator=generator).to(next(net.parameters()).device)
        labels = torch.arange(net.num_classes, device=z_s.device)
        if net.multilabel:
            labels = torch.cat([labels.new_zeros(1, net.num_classes), torch.eye(net.num_classes, device=z_s.device)])
        z_c = net.conditional_prior(labels)[0]  # (columns, K)
        return net.decode(z_c, z_s)
    _require(net, M2, "generate")
    z = torch.randn(rows, 1, net.z_dim, generator=generator).to(next(net.parameters()).device)
    classes = torch.arange(net.num_classes, device=z.device)
    return net.decode(classes, z)


@torch.no_grad()
def style_transfer(net, x):
    """``(len(x), 1 + K, ...)``: each image of ``x``, then every class in its inferred style."""
    _require(net, M2, "style-transfer")
    y = net.classifier(x).argmax(-1)
    z = net.encode(x, y).unsqueeze(1)  # (B, 1, Z)
    rendered = net.decode(torch.arange(net.num_classes, device=x.device), z)  # (B, K, D)
    return torch.cat([x.unsqueeze(1), rendered], dim=1)


#: how far from 0 :func:`traversal` sweeps each dimension by default (five prior standard deviations)
TRAVERSAL_EXTENT = 5.0


@torch.no_grad()
def traversal(net, label, dims=(0, 1), steps=11, extent=TRAVERSAL_EXTENT):
    """``(steps, steps, ...)`` images of class ``label``: z is 0 except dimensions ``dims``, which
    run from ``-extent`` to ``extent`` (first dimension left to right, second bottom to top)."""
    _require(net, M2, "traversal")
    if not 0 <= label < net.num_classes:
        raise PyrossError(f"--label {label} is not a class (0 to {net.num_classes - 1})")
    if len(set(dims)) != 2 or not all(0 <= d < net.z_dim for d in dims):
        raise PyrossError(f"--dims needs two different dimensions of z, from 0 to {net.z_dim - 1}")
    device = next(net.parameters()).device
    axis = torch.linspace(-extent, extent, steps, device=device)
    z = torch.zeros(steps, steps, net.z_dim, device=device)
    z[..., dims[0]] = axis.expand(steps, steps)
    z[..., dims[1]] = axis.flip(0).unsqueeze(1).expand(steps, steps)
    return net.decode(torch.full((steps, steps), label, device=device), z)


def _latent_means(net, x):
    if isinstance(net, CCVAE):
        return net.encode(x)[0]
    if isinstance(net, M2):
        return net.encode(x, net.classifier(x).argmax(-1))
    _require(net, VAE, "latent")
    return net.encode(x)


@torch.no_grad()
def latent_points(net, x, batch_size=1000):
    """Latent means of images ``x`` in two dimensions (the first two principal components
    when z has more), and a description of the axes."""
    z = torch.cat([_latent_means(net, xb) for xb in x.split(batch_size)])
    if z.shape[1] == 2:
        return z, "z"
    if z.shape[1] == 1:
        return torch.cat([z, torch.zeros_like(z)], 1), "z"
    centred = z - z.mean(0)
    _, _, v = torch.pca_lowrank(centred, q=2, center=False)
    return centred @ v[:, :2], f"first two principal components of the {z.shape[1]}-D z"


@torch.no_grad()
def reconstructions(net, x):
    """``(len(x), 2, ...)``: each image and the mean of p(x | z) at its latent mean (M2: and its
    predicted class)."""
    if isinstance(net, CCVAE):
        rebuilt = net.decode(*net.encode(x))
    elif isinstance(net, M2):
        y = net.classifier(x).argmax(-1)
        rebuilt = net.decode(y, net.encode(x, y))
    else:
        _require(net, VAE, "reconstructions")
        rebuilt = net.decode(net.encode(x))
    return torch.stack([x, rebuilt], dim=1)


@torch.no_grad()
def walk_values(net, steps=9):
    """``(K, steps)``: the values :func:`latent_walk` gives ``z_c[i]`` in row ``i``, evenly spaced
    from two prior scales below the lower of its two prior locations ("not class i", "class i")
    to two above the higher."""
    locs, scales = net.characteristic_prior()  # (2, K): "not class i", "class i"
    low, high = locs.min(0).values, locs.max(0).values
    spread = 2 * scales.max(0).values
    fraction = torch.linspace(0, 1, steps, device=locs.device)
    return (low - spread).unsqueeze(1) + (high - low + 2 * spread).unsqueeze(1) * fraction


@torch.no_grad()
def latent_walk(net, x, steps=9):
    """``(K, steps, ...)`` for one image ``x`` ``(D,)``: row ``i`` sweeps ``z_c[i]`` over
    :func:`walk_values`, across "not class i" and "class i", the rest of ``z`` kept."""
    _require(net, CCVAE, "latent-walk")
    z_c, z_s = net.encode(x.unsqueeze(0))
    walks = []
    for i, values in enumerate(walk_values(net, steps)):
        walk = z_c.repeat(steps, 1)
        walk[:, i] = values
        walks.append(net.decode(walk, z_s))
    return torch.stack(walks)


@torch.no_grad()
def intervention(net, x, generator):
    """``(len(x), 2 + K, ...)``: each image, its reconstruction, then for each class ``k`` the
    image decoded with ``z_c ~ p(z_c | y = k)`` and its own ``z_s``. For binary attributes,
    column ``2 + i`` flips attribute ``i`` alone: ``z_c[i] ~ p(z_c[i] | y_i = 1 - ŷ_i)``, the
    rest of ``z`` kept."""
    _require(net, CCVAE, "intervention")
    z_c, z_s = net.encode(x)
    if net.multilabel:
        return torch.cat([x.unsqueeze(1), net.decode(z_c, z_s).unsqueeze(1), _flip_attributes(net, z_c, z_s, generator)],
                         dim=1)
    classes = torch.arange(net.num_classes, device=x.device)
    loc, scale = net.conditional_prior(classes)  # (K, K)
    noise = torch.randn(len(x), net.num_classes, net.num_classes, generator=generator).to(x.device)
    swapped = net.decode(loc + scale * noise, z_s.unsqueeze(1))  # (B, K, D)
    return torch.cat([x.unsqueeze(1), net.decode(z_c, z_s).unsqueeze(1), swapped], dim=1)


def _flip_attributes(net, z_c, z_s, generator):
    """``(B, L, D)``: column ``i`` decodes ``z_c`` with ``z_c[i]`` drawn for the opposite of the
    attribute ``i`` the classifier reads."""
    flipped = 1 - (net.classify_characteristics(z_c) > 0).long()  # (B, L)
    loc, scale = net.conditional_prior(flipped)
    draw = loc + scale * torch.randn(z_c.shape, generator=generator).to(z_c.device)
    columns = z_c.unsqueeze(1).repeat(1, net.num_classes, 1)  # (B, L, L): row i will change dimension i
    index = torch.arange(net.num_classes, device=z_c.device)
    columns[:, index, index] = draw
    return net.decode(columns, z_s.unsqueeze(1))
