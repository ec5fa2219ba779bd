"""Pictures of a trained run, written into its folder as PNG."""
import torch

from .figures import latent_points
from .plots import plot_image_grid, plot_latent_scatter
from .predict import load_trained

#: the decoded grid spans [-GRID_EXTENT, GRID_EXTENT] on both latent axes (3 prior standard deviations)
GRID_EXTENT = 3.0


@torch.no_grad()
def latent_pictures(run, dataset, device="cpu", steps=20):
    """For a model with a 2-D latent (``encode`` / ``decode``): the test-set latent means
    coloured by label (``latent_means.png``) and the images decoded from a ``steps`` x ``steps``
    grid of evenly spaced latent coordinates (``latent_grid.png``).

    :param dataset: the run's :class:`~pyross.data.Dataset`.
    :returns: the paths written.
    """
    config = run.config
    net = load_trained(run, device)[0]
    test = dataset.test.to(device)
    z, _ = latent_points(net, test.x)
    means = run.file("latent_means.png")
    plot_latent_scatter(z, test.y, dataset.class_names, means,
                        title=f"{config['model']} on {config['dataset']}: means of q(z|x), test images")
    axis = torch.linspace(-GRID_EXTENT, GRID_EXTENT, steps, device=device)
    grid = torch.stack(torch.meshgrid(axis.flip(0), axis, indexing="ij"), -1)  # row: z2 from top down, col: z1
    c, h, w = dataset.image_shape
    images = net.decode(grid.reshape(-1, 2)).reshape(steps, steps, h, w)
    decoded = run.file("latent_grid.png")
    values = [f"{v:.1f}" for v in axis.tolist()]
    plot_image_grid(images, decoded, title=f"{config['model']}: images decoded from a grid of latent coordinates",
                    rows=values[::-1], cols=values, row_title="$z_2$", col_title="$z_1$")
    return [means, decoded]
