"""WGAN's weight clipping: keep every parameter of the critic in [-c, c]."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from bench.tricks.registry import Role, TrainContext, Trick, TrickParams, register


class WeightClippingParams(TrickParams):
    clip: float = Field(
        0.01, gt=0.0, le=1.0, description="c: every D parameter is kept in [-c, c] (paper: 0.01)"
    )


@register
class WGANWeightClipping(Trick):
    """Clip every parameter of D into [-c, c] after each D optimiser step (the original WGAN).

    Arjovsky, Chintala and Bottou (2017), "Wasserstein GAN", Algorithm 1: after each critic
    update, w <- clip(w, -c, c), with c = 0.01, which keeps the critic in a compact set of
    functions and so K-Lipschitz for some K. Every parameter is clipped, the affine ones of
    batch norm included, as the authors' code does. It is their Lipschitz constraint for the
    Wasserstein loss, so it needs `wasserstein_loss` beside it; Gulrajani et al. (2017)
    replaced it with `gradient_penalty`. The paper trains with RMSProp (lr 5e-5) and 5 critic
    steps per G step; this trick changes only the constraint, so a suite comparing it with
    the gradient penalty keeps one optimiser and schedule for both.
    """

    name = "wgan_weight_clipping"
    family = "losses"
    citation = "Arjovsky et al. 2017, Wasserstein GAN, Algorithm 1"
    Params = WeightClippingParams
    requires = {
        "wasserstein_loss": "weight clipping is the Lipschitz constraint of the Wasserstein "
        "critic (Arjovsky et al. 2017); the other objectives need no such constraint"
    }
    capturable = True

    def after_update(self, role: Role, net: nn.Module, ctx: TrainContext) -> None:
        if role != "discriminator":
            return
        clip = self.params.clip
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.clamp_(-clip, clip)
