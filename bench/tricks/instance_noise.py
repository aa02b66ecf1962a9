"""Instance noise: Gaussian noise on every input D sees, annealed to zero."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from bench.tricks.registry import TrainContext, Trick, TrickParams, register


class InstanceNoiseParams(TrickParams):
    sigma: float = Field(0.1, gt=0.0, le=2.0, description="noise std at step 0 (data in [-1,1])")
    anneal_fraction: float = Field(
        1.0, gt=0.0, le=1.0, description="fraction of training over which sigma decays to 0"
    )


@register
class InstanceNoise(Trick):
    """Add N(0, sigma_t^2) to real and fake inputs of D; sigma_t decays linearly to 0.

    Sønderby et al. (2017), "Amortised MAP Inference for Image Super-resolution", sec. 6;
    Arjovsky & Bottou (2017): noise makes the real and fake distributions overlap, so D's
    gradients stay informative early on. Both D and G updates see the noised D inputs.
    """

    name = "instance_noise"
    family = "noise"
    citation = "Sønderby et al. 2017 (instance noise); Arjovsky & Bottou 2017"
    Params = InstanceNoiseParams
    capturable = True

    def sigma(self, ctx: TrainContext) -> Tensor:
        """sigma_t = sigma * max(0, 1 - t / (anneal_fraction * steps)), a device tensor."""
        horizon = max(self.params.anneal_fraction * ctx.total_steps, 1.0)
        return self.params.sigma * (1.0 - ctx.step / horizon).clamp(min=0.0)

    def d_inputs(self, real: Tensor | None, fake: Tensor, ctx: TrainContext):
        sigma = self.sigma(ctx)
        return (
            None if real is None else real + sigma * _noise_like(real, ctx),
            fake + sigma * _noise_like(fake, ctx),
        )


def _noise_like(like: Tensor, ctx: TrainContext) -> Tensor:
    return torch.randn(like.shape, generator=ctx.rng, device=like.device)
