"""Drawing from a trained GAN for evaluation: one seeded sampler with every trick's hooks.

G is the one `evaluation_generator` picks (e.g. an EMA copy). Latents pass through
`sample_latent` (e.g. a uniform latent trick) and, when asked, through `sample` (truncation,
rejection sampling, Langevin refinement); a conditional G gets uniformly drawn labels, a
paired G a source image from `sources` (the test split, after `prepare_data`);
`evaluation_output` maps outputs back to [-1, 1]. G and D are in eval mode while sampling and
return to the mode they were in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from bench.train.loop import TrainOutcome
from bench.tricks.registry import Nets, call_net, conditioning

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

    def __init__(self, outcome: TrainOutcome, seed: int, sources: Tensor | None = None) -> None:
        ctx = dataclasses.replace(
            outcome.context,
            generator=torch.Generator(device=outcome.context.device).manual_seed(seed),
            phase="sample",
        )
        generator = outcome.generator
        for trick in outcome.tricks:
            generator = trick.evaluation_generator(generator, ctx)
        ctx.nets = Nets(generator, outcome.discriminator)
        ctx.latent_prior = self.prior
        self.ctx, self.tricks = ctx, outcome.tricks
        self.generator, self.discriminator = generator, outcome.discriminator
        self.sources = None
        if sources is not None and "source" in conditioning(generator):
            self.sources = sources.to(ctx.device)
            for trick in self.tricks:
                self.sources = trick.prepare_data(self.sources, ctx)

    def labels(self, n: int) -> Tensor | None:
        """Uniformly drawn class labels for a conditional G, else None."""
        ctx = self.ctx
        if ctx.num_classes is None:
            return None
        return torch.randint(0, ctx.num_classes, (n,), generator=ctx.generator, device=ctx.device)

    def latent(self, n: int, labels: Tensor | None) -> Tensor:
        """N(0, I) latents through every `sample_latent` hook."""
        ctx = self.ctx
        z = torch.randn(n, ctx.latent_dim, generator=ctx.generator, device=ctx.device)
        for trick in self.tricks:
            z = trick.sample_latent(z, labels, ctx)
        return z

    def prior(self, n: int) -> tuple[Tensor, Tensor | None]:
        """Latents and labels as training draws them (what `ctx.latent_prior` gives tricks)."""
        labels = self.labels(n)
        return self.latent(n, labels), labels

    @torch.no_grad()
    def render(self, z: Tensor, labels: Tensor | None, source: Tensor | None) -> Tensor:
        """G's outputs for these inputs, mapped back to [-1, 1], as floats on the CPU."""
        images = call_net(self.generator, z, labels, source)
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
        source = None
        if self.sources is not None:
            pick = torch.randint(
                0, len(self.sources), (size,), generator=self.ctx.generator, device=self.ctx.device
            )
            source = self.sources[pick]
        return self.render(z, labels, source)

    def interpolate(self, rows: int, steps: int) -> Tensor:
        """`rows` slerp paths of `steps` images between two latents, one label/source per row.

        `sample` hooks (truncation, rejection) do not apply: the strip shows G itself.
        """
        labels = self.labels(rows)
        start, end = self.latent(rows, labels), self.latent(rows, labels)
        path = slerp(start, end, torch.linspace(0, 1, steps)).flatten(0, 1)
        source = None
        if self.sources is not None:
            source = self.sources[:rows].repeat_interleave(steps, dim=0)
        row_labels = None if labels is None else labels.repeat_interleave(steps)
        with evaluation_mode(self.generator, self.discriminator):
            return self.render(path, row_labels, source)


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
