"""R1 and R2: zero-centred gradient penalties on D, on real or on fake data, optionally lazy.

Mescheder, Geiger & Nowozin (2018), "Which Training Methods for GANs do actually Converge?",
eq. 9 (R1, on real data) and eq. 10 (R2, on generated data), gamma = 10 in their
experiments. Lazy regularization (Karras et al. 2020, StyleGAN2, sec. 3.1): apply the
penalty every k iterations only, weighted by k (they use k = 16). The penalty sees the
batches as D saw them, so augmentations (`diffaugment`) apply to it too.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register

SOURCE = "Mescheder et al. 2018, Which Training Methods for GANs do actually Converge?"
LAZY = "Karras et al. 2020 (StyleGAN2), lazy regularization"


class ZeroCentredPenaltyParams(TrickParams):
    gamma: float = Field(10.0, gt=0.0, le=1000.0, description="gamma (Mescheder et al.: 10)")
    every: int = Field(
        1, ge=1, le=1000, description="lazy: every k iterations, weighted by k (StyleGAN2: 16)"
    )


def squared_input_gradient(terms: LossTerms, batch: Tensor, labels: Tensor | None) -> Tensor:
    """||grad_x D(x)||^2 per example of `batch`, kept in the graph so D can minimise it."""
    x = batch.detach().requires_grad_(True)
    logits = terms.discriminate(x, labels)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.flatten(1).square().sum(dim=1)


def lazy_weight(every: int, ctx: TrainContext) -> Tensor:
    """k on iterations divisible by k, else 0 (a device tensor: no host read, capturable).

    The penalty is still computed every iteration and masked, so the step stays one
    capturable graph; the compute saving of lazy regularization is not realised.
    """
    return every * (torch.remainder(ctx.step, every) == 0).to(ctx.step.dtype)


class ZeroCentredPenalty(Trick):
    """Shared by R1 and R2 (not registered itself)."""

    family = "regularization"
    Params = ZeroCentredPenaltyParams
    on_real: bool = True

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        return loss + lazy_weight(self.params.every, ctx) * self.penalty(terms)

    def penalty(self, terms: LossTerms) -> Tensor:
        """gamma / 2 * E ||grad D||^2 on the real batch (R1) or the fake batch (R2)."""
        if self.on_real:
            batch, labels = terms.real, terms.real_labels
        else:
            batch, labels = terms.fake, terms.fake_labels
        return 0.5 * self.params.gamma * squared_input_gradient(terms, batch, labels).mean()


@register
class R1Penalty(ZeroCentredPenalty):
    """Add gamma/2 * E_real ||grad_x D(x)||^2 to D's loss: zero-centred penalty on real data.

    Mescheder et al. (2018), eq. 9: locally convergent training where unregularised GANs
    oscillate; gamma = 10. `every` = k applies it lazily (Karras et al. 2020, k = 16).
    """

    name = "r1_penalty"
    capturable = True
    citation = f"{SOURCE} (R1, eq. 9); {LAZY}"
    on_real = True


@register
class R2Penalty(ZeroCentredPenalty):
    """Add gamma/2 * E_fake ||grad_x D(x)||^2 to D's loss: zero-centred penalty on fakes.

    Mescheder et al. (2018), eq. 10: the same convergence result as R1, on G's samples;
    gamma = 10. `every` = k applies it lazily (Karras et al. 2020, k = 16).
    """

    name = "r2_penalty"
    capturable = True
    citation = f"{SOURCE} (R2, eq. 10); {LAZY}"
    on_real = False
