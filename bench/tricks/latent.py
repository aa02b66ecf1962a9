"""Latent distribution: uniform instead of the default Gaussian."""

from __future__ import annotations

import torch
from torch import Tensor

from bench.tricks.registry import TrainContext, Trick, register


@register
class UniformLatent(Trick):
    """Draw z ~ U[-1, 1]^d instead of N(0, I) (the default), in training and evaluation.

    Radford et al. (2016) sampled z uniformly; ganhacks (Chintala et al. 2016), tip 3,
    recommends a spherical Gaussian instead. This trick lets a suite compare the two.
    """

    name = "uniform_latent"
    family = "latent"
    citation = "Radford et al. 2016 (DCGAN, uniform z) vs ganhacks tip 3 (Gaussian z)"
    order = 10
    capturable = True

    def sample_latent(self, z: Tensor, labels: Tensor | None, ctx: TrainContext) -> Tensor:
        draws = torch.rand(z.shape, generator=ctx.rng, device=z.device)
        return 2.0 * draws - 1.0
