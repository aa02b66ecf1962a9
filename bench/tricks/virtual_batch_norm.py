"""Virtual batch norm in G: normalise with a fixed reference batch's statistics."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from bench.models.layers import DropReference, ReferenceBatch, VirtualBatchNorm2d
from bench.models.surgery import insert_first, replace_modules, require_sequential
from bench.tricks.registry import TrainContext, Trick, TrickParams, register


class VirtualBatchNormParams(TrickParams):
    reference_size: int = Field(
        64, ge=2, le=1024, description="latents in the fixed reference batch (drawn once)"
    )


@register
class VirtualBatchNorm(Trick):
    """Replace G's batch norm by virtual batch norm over a fixed reference batch of latents.

    Salimans et al. (2016), "Improved Techniques for Training GANs", sec. 3.5: each example is
    normalised with the statistics of a reference batch chosen once at the start of training
    (and of itself), so it no longer depends on the other examples in its minibatch. G only,
    as in the paper (two forward passes are costly). The reference latents are drawn from
    N(0, I), the default latent; reference size 64 is a common minibatch size (the paper does
    not fix one).
    """

    name = "virtual_batch_norm"
    family = "normalization"
    citation = "Salimans et al. 2016, Improved Techniques for Training GANs, sec. 3.5"
    Params = VirtualBatchNormParams
    needs = frozenset({"images"})
    conflicts = {
        "generator_norm": "both replace G's batch norm layers",
        "uniform_latent": "the reference batch is drawn from N(0, I), not U[-1, 1]",
    }
    refuses_conditioning = {
        "labels": "the reference latents carry no label embedding for G's label-conditioned input"
    }
    order = 45
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        net = require_sequential(generator, self.name)
        size = self.params.reference_size
        replace_modules(net, nn.BatchNorm2d, lambda bn: VirtualBatchNorm2d(bn.num_features, size))
        latents = torch.randn(size, ctx.latent_dim, 1, 1, generator=ctx.rng, device=ctx.device)
        device = next(net.parameters()).device
        insert_first(net, "reference_batch", ReferenceBatch(latents.to(device)))
        net.add_module("drop_reference", DropReference(size))
        return net
