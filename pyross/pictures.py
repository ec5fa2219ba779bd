"""Pictures of a trained run, written into its folder as PNG."""
import torch

from .fitting import build_model, dataset_of
from .plots import plot_image_grid, plot_latent_scatter
from .runs import BEST

#: the decoded grid spans [-GRID_EXTENT, GRID_EXTENT] on both latent axes (3 prior standard deviations)
GRID_EXTENT = 3.0


@torch.no_grad()
def latent_pictures(run, config, device="cpu", steps=20):
    """For a model with a 2-D latent (``encode`` / ``decode``): the test-set latent means
    coloured by label (``latent_means.png``) and the images decoded from a ``steps`` x ``steps``
    grid of evenly spaced latent coordinates (``latent_grid.png``).

    :returns: the paths written.
    """
    dataset = dataset_of(config)
    net = build_model(config, dataset).to(device)
    run.restore(net, BEST, device=device)
    net.eval()
    test = dataset.test.to(device)
    z = torch.cat([net.encode(x) for x in test.x.split(1000)])
    means = run.file("latent_means.png")
    plot_latent_scatter(z, test.y, dataset.class_names, means,
                        title=f"{config['model']} on {config['dataset']}: means of q(z|x), test images")
    axis = torch.linspace(-GRID_EXTENT, GRID_EXTENT, steps, device=device)
    grid = torch.stack(torch.meshgrid(axis.flip(0), axis, indexing="ij"), -1)  # row: z2 from top down, col: z1
    c, h, w = dataset.image_shape
    images = net.decode(grid.reshape(-1, 2)).reshape(steps, steps, h, w)
    decoded = run.file("latent_grid.png")
    plot_image_grid(images, decoded, title="decoded latent grid: $z_1$ left to right, $z_2$ bottom to top",
                    extent=(-GRID_EXTENT, GRID_EXTENT, -GRID_EXTENT, GRID_EXTENT))
    return [means, decoded]
