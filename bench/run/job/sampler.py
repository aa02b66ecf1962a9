"""Drawing from a trained GAN for evaluation: one seeded sampler with every trick's hooks.

G is the one `evaluation_generator` picks (e.g. an EMA copy). Latents pass through
`sample_latent` (e.g. a uniform latent trick) and, when asked, through `sample` (truncation,
rejection sampling, Langevin refinement); a conditional G gets uniformly drawn labels, a
paired G an input image from `condition_images` (the test split, after `prepare_data`);
`evaluation_output` maps outputs back to [-1, 1]. G and D are in eval mode while sampling and
return to the mode they were in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from bench.models.conditioning import call_net, conditioning
from bench.train.loop import TrainOutcome
from bench.tricks.registry import Nets

EVAL_BATCH = 500


@contextmanager
def evaluation_mode(*nets: nn.Module) -> Iterator[None]:
    """Put `nets` in eval mode for the block, then back in the mode each was in."""
    modes = [net.training for net in nets]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for net, mode in zip(nets, modes, strict=True):
            net.train(mode)


class Sampler:
    """Seeded draws from `outcome`'s generator, as evaluation sees it."""

    def __init__(
        self, outcome: TrainOutcome, seed: int, condition_images: Tensor | None = None
    ) -> None:
        ctx = dataclasses.replace(
            outcome.context,
            rng=torch.Generator(device=outcome.context.device).manual_seed(seed),
            phase="sample",
        )
        generator = outcome.generator
        for trick in outcome.tricks:
            generator = trick.evaluation_generator(generator, ctx)
        ctx.nets = Nets(generator, outcome.discriminator)
        ctx.latent_prior = self.prior
        self.ctx, self.tricks = ctx, outcome.tricks
        self.generator, self.discriminator = generator, outcome.discriminator
        self.condition_images = None
        if condition_images is not None and "condition_image" in conditioning(generator):
            self.condition_images = condition_images.to(ctx.device)
            for trick in self.tricks:
                self.condition_images = trick.prepare_data(self.condition_images, ctx)

    def through_hooks(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """`z` through every `sample_latent` hook."""
        for trick in self.tricks:
            z = trick.sample_latent(z, labels, self.ctx)
        return z

    def prior(self, n: int) -> tuple[Tensor, Tensor | None]:
        """Latents and labels as training draws them (what `ctx.latent_prior` gives tricks)."""
        z, labels = self.ctx.draw_prior(n)
        return self.through_hooks(z, labels), labels

    @torch.no_grad()
    def render(self, z: Tensor, labels: Tensor | None, condition_image: Tensor | None) -> Tensor:
        """G's outputs for these inputs, mapped back to [-1, 1], as floats on the CPU."""
        images = call_net(self.generator, z, labels, condition_image)
        for trick in self.tricks:
            images = trick.evaluation_output(images, self.ctx)
        return images.float().cpu()

    def generate(self, n: int, sampling_tricks: bool = True) -> Tensor:
        """`n` samples, in batches; with `sampling_tricks`, through every `sample` hook."""
        with evaluation_mode(self.generator, self.discriminator):
            return torch.cat(
                [
                    self._batch(min(EVAL_BATCH, n - i), sampling_tricks)
                    for i in range(0, n, EVAL_BATCH)
                ]
            )

    def _batch(self, size: int, sampling_tricks: bool) -> Tensor:
        z, labels = self.prior(size)
        if sampling_tricks:
            for trick in self.tricks:
                z, labels = trick.sample(z, labels, self.ctx)
        condition_image = None
        if self.condition_images is not None:
            count = len(self.condition_images)
            pick = torch.randint(0, count, (size,), generator=self.ctx.rng, device=self.ctx.device)
            condition_image = self.condition_images[pick]
        return self.render(z, labels, condition_image)

    def interpolate(self, rows: int, steps: int) -> Tensor:
        """`rows` slerp paths of `steps` images between two latents, one label/input per row.

        `sample` hooks (truncation, rejection) do not apply: the strip shows G itself.
        """
        start, labels = self.prior(rows)
        end = torch.randn(rows, self.ctx.latent_dim, generator=self.ctx.rng, device=self.ctx.device)
        end = self.through_hooks(end, labels)
        path = slerp(start, end, torch.linspace(0, 1, steps)).flatten(0, 1)
        condition_image = None
        if self.condition_images is not None:
            condition_image = self.condition_images[:rows].repeat_interleave(steps, dim=0)
        row_labels = None if labels is None else labels.repeat_interleave(steps)
        with evaluation_mode(self.generator, self.discriminator):
            return self.render(path, row_labels, condition_image)


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
