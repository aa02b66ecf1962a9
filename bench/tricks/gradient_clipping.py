"""Gradient-norm clipping: rescale G's or D's gradient when its norm exceeds a threshold."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from bench.tricks.registry import Role, TrainContext, Trick, TrickParams, register

ROLES: dict[str, tuple[Role, ...]] = {
    "both": ("generator", "discriminator"),
    "generator": ("generator",),
    "discriminator": ("discriminator",),
}


class ClippingParams(TrickParams):
    max_norm: float = Field(
        1.0,
        gt=0.0,
        description="threshold on the L2 norm of all of a net's gradients (the paper sets it "
        "near the average norm; no fixed value)",
    )
    nets: Literal["both", "generator", "discriminator"] = Field(
        "both", description="whose gradients are clipped"
    )


@register
class GradientClipping(Trick):
    """Rescale a net's whole gradient to norm `max_norm` when it is larger, before each step.

    Pascanu, Mikolov and Bengio (2013), "On the difficulty of training recurrent neural
    networks", sec. 3.2, algorithm 1: if ||g|| > threshold, g <- threshold * g / ||g||, so a
    single exploding gradient cannot throw the parameters far. Applied through the
    `gradients` hook, between `backward()` and the optimiser step, as one norm over all of
    the net's parameters (`torch.nn.utils.clip_grad_norm_`, no host read). The gradient
    norms the failure detectors see are the unclipped ones.
    """

    name = "gradient_clipping"
    family = "optimisation"
    citation = "Pascanu et al. 2013, On the difficulty of training RNNs, sec. 3.2 alg. 1"
    Params = ClippingParams
    capturable = True

    def gradients(self, role: Role, net: nn.Module, ctx: TrainContext) -> None:
        if role in ROLES[self.params.nets]:
            nn.utils.clip_grad_norm_(net.parameters(), self.params.max_norm, foreach=True)
