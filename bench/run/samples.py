"""Sample figures: an image grid for image data, a scatter over the modes for 2-D toys, and an
optional strip of images along great circles between latents (slerp)."""

from __future__ import annotations

import dataclasses
import io
from typing import TYPE_CHECKING

import torch
import torchvision.utils as vutils
from matplotlib.figure import Figure
from torch import Tensor

from bench.data import Dataset
from bench.tricks.registry import Nets, call_net, conditioning

if TYPE_CHECKING:
    from bench.train.loop import TrainOutcome

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


def slerp(start: Tensor, end: Tensor, fractions: Tensor) -> Tensor:
    """Spherical linear interpolation between the rows of `start` and `end` [B, D].

    Shoemake (1985), "Animating rotation with quaternion curves", as White (2016), "Sampling
    Generative Networks", recommends for Gaussian latents: sin((1-t) w) / sin w * p0 +
    sin(t w) / sin w * p1, w the angle between p0 and p1; linear where they are (anti)parallel.
    Returns [B, T, D] for `fractions` [T] in [0, 1].
    """
    cosine = torch.cosine_similarity(start, end, dim=1).clamp(-1, 1).view(-1, 1, 1)
    omega = torch.acos(cosine)
    t = fractions.to(start).view(1, -1, 1)
    sin_omega = torch.sin(omega)
    parallel = sin_omega.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    w_start = torch.where(parallel, 1 - t, torch.sin((1 - t) * omega) / safe)
    w_end = torch.where(parallel, t, torch.sin(t * omega) / safe)
    return w_start * start.unsqueeze(1) + w_end * end.unsqueeze(1)


@torch.no_grad()
def interpolation_strip_png(
    outcome: TrainOutcome, seed: int, sources: Tensor | None = None
) -> bytes:
    """PNG bytes: `INTERPOLATION_ROWS` rows of G's images along slerp paths between two
    latents drawn (seeded) as at evaluation, one class label (or paired source) per row.

    The evaluation generator and `evaluation_output` hooks apply; `sample` hooks (truncation,
    rejection) do not: the strip shows G itself along the path.
    """
    ctx = dataclasses.replace(
        outcome.context,
        generator=torch.Generator(device=outcome.context.device).manual_seed(seed),
        phase="sample",
    )
    generator = outcome.generator
    for trick in outcome.tricks:
        generator = trick.evaluation_generator(generator, ctx)
    ctx.nets = Nets(generator, outcome.discriminator)
    rows, steps = INTERPOLATION_ROWS, INTERPOLATION_STEPS
    labels = None
    if ctx.num_classes is not None:
        labels = torch.randint(ctx.num_classes, (rows,), generator=ctx.generator, device=ctx.device)
    ends = []
    for _ in range(2):
        z = torch.randn(rows, ctx.latent_dim, generator=ctx.generator, device=ctx.device)
        for trick in outcome.tricks:
            z = trick.sample_latent(z, labels, ctx)
        ends.append(z)
    path = slerp(ends[0], ends[1], torch.linspace(0, 1, steps)).flatten(0, 1)
    source = None
    if sources is not None and "source" in conditioning(generator):
        source = sources[:rows].to(ctx.device)
        for trick in outcome.tricks:
            source = trick.prepare_data(source, ctx)
        source = source.repeat_interleave(steps, dim=0)
    row_labels = None if labels is None else labels.repeat_interleave(steps)
    was_training = generator.training
    generator.eval()
    try:
        images = call_net(generator, path, row_labels, source)
        for trick in outcome.tricks:
            images = trick.evaluation_output(images, ctx)
    finally:
        generator.train(was_training)
    return _grid_png(images.float().cpu(), nrow=steps)
