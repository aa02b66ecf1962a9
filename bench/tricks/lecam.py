"""LeCam regularization: pull D's outputs towards moving averages of the other class's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register


class LeCamParams(TrickParams):
    weight: float = Field(0.3, gt=0.0, le=100.0, description="lambda (authors' CIFAR-10: 0.3)")
    decay: float = Field(0.99, ge=0.0, lt=1.0, description="EMA decay of the anchors")
    one_sided: bool = Field(
        True, description="relu(D(x) - a_F)^2 as the authors' code; false: the paper's eq. 3"
    )


@register
class LeCam(Trick):
    """Add lambda * (E||D(x) - a_F||^2 + E||D(G(z)) - a_R||^2) to D's loss, anchors EMAs.

    Tseng et al. (2021), "Regularizing Generative Adversarial Networks under Limited Data",
    eq. 3: a_R and a_F are exponential moving averages (decay 0.99) of D's mean output on
    real and on fake batches; the term bounds a LeCam divergence and keeps D from
    over-separating the few real images it has seen. The authors' code penalises only
    outputs beyond the anchor (relu), the default here; lambda = 0.3 as their CIFAR-10
    BigGAN runs. The anchors start at 0.
    """

    name = "lecam"
    capturable = True
    family = "regularization"
    citation = "Tseng et al. 2021, Regularizing GANs under Limited Data (LeCam), eq. 3"
    Params = LeCamParams

    def setup(self, ctx: TrainContext) -> None:
        self.anchors = torch.zeros(2, device=ctx.device)  # a_R, a_F: updated in place

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        real, fake = terms.real_logits, terms.fake_logits
        means = torch.stack([real.detach().mean(), fake.detach().mean()])
        self.anchors.mul_(self.params.decay).add_((1.0 - self.params.decay) * means)
        anchor_real, anchor_fake = self.anchors.unbind()
        above, below = real - anchor_fake, anchor_real - fake
        if self.params.one_sided:
            above, below = F.relu(above), F.relu(below)
        return loss + self.params.weight * (above.square().mean() + below.square().mean())
