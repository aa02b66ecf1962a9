"""Sample figures: an image grid for image data, a scatter over the modes for 2-D toys, and an
optional strip of images along great circles between latents (drawn by `bench.run.job.sampler`)."""

from __future__ import annotations

import io

import torchvision.utils as vutils
from matplotlib.figure import Figure
from torch import Tensor

from bench.data import Dataset

INTERPOLATION_FILE = "interpolation.png"
INTERPOLATION_ROWS = 4
INTERPOLATION_STEPS = 10


def sample_figure_png(samples: Tensor, dataset: Dataset) -> bytes:
    """PNG bytes: an 8-wide grid of images in [-1, 1], or a scatter plot of 2-D points."""
    if dataset.kind == "toy2d":
        return _scatter_png(samples, dataset)
    return _grid_png(samples, nrow=8)


def _grid_png(images: Tensor, nrow: int) -> bytes:
    grid = vutils.make_grid(images, nrow=nrow, padding=1, normalize=True, value_range=(-1, 1))
    buffer = io.BytesIO()
    vutils.save_image(grid, buffer, format="png")
    return buffer.getvalue()


def _scatter_png(points: Tensor, dataset: Dataset) -> bytes:
    fig = Figure(figsize=(3, 3), dpi=100)
    ax = fig.subplots()
    if dataset.modes is not None:
        modes = dataset.modes.numpy()
        ax.scatter(modes[:, 0], modes[:, 1], s=60, c="tab:red", marker="x", label="modes")
    ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), s=4, alpha=0.6, label="samples")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=6)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def interpolation_strip_png(images: Tensor) -> bytes:
    """PNG bytes: `INTERPOLATION_ROWS` rows of `INTERPOLATION_STEPS` images (a slerp path each)."""
    return _grid_png(images, nrow=INTERPOLATION_STEPS)
