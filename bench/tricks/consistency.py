"""Consistency regularization of D: bCR (image augmentations) and zCR (latent perturbations).

Zhao, Singh, Lee, Zhang, Odena & Zhang (2021), "Improved Consistency Regularization for
GANs" (AAAI), Alg. 1 (bCR) and Alg. 2 (zCR), after Zhang et al. (2020), "Consistency
Regularization for GANs". Their defaults: lambda_real = lambda_fake = 10 (bCR);
sigma_noise = 0.03, lambda_dis = 5, lambda_gen = 0.5 (zCR); T = random horizontal flip and
a shift of up to 1/8 of the image (4 px on CIFAR-10). Squared differences are averaged over
elements, as reference implementations do (MSE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from bench.models.conditioning import call_net
from bench.tricks.diffaugment import PAIRED, translation
from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register

CITATION = "Zhao et al. 2021, Improved Consistency Regularization for GANs"


def flip_and_shift(x: Tensor, flip: bool, shift_ratio: float, ctx: TrainContext) -> Tensor:
    """T(x): mirror each image left-right with probability 1/2, then shift it (zero fill)."""
    if flip:
        coin = torch.rand(x.shape[0], 1, 1, 1, generator=ctx.rng, device=x.device) < 0.5
        x = torch.where(coin, x.flip(-1), x)
    return translation(x, shift_ratio, ctx) if shift_ratio > 0 else x


class BalancedConsistencyParams(TrickParams):
    real_weight: float = Field(10.0, ge=0.0, le=1000.0, description="lambda_real (paper: 10)")
    fake_weight: float = Field(10.0, ge=0.0, le=1000.0, description="lambda_fake (paper: 10)")
    flip: bool = Field(True, description="T flips left-right with probability 1/2")
    shift_ratio: float = Field(0.125, ge=0.0, le=0.5, description="T's max shift / image size")


@register
class BalancedConsistency(Trick):
    """bCR: D's logits must not change under augmentation, on real AND on fake images.

    Zhao et al. (2021), Alg. 1: D's loss gains lambda_real * ||D(x) - D(T(x))||^2 +
    lambda_fake * ||D(G(z)) - D(T(G(z)))||^2; the fake term stops D from learning that
    augmented images are real (CR, Zhang et al. 2020, had only the real term).
    """

    name = "bcr"
    capturable = True
    family = "regularization"
    citation = f"{CITATION}, Alg. 1 (bCR)"
    Params = BalancedConsistencyParams
    needs = frozenset({"images"})
    refuses_conditioning = {"condition_image": PAIRED}

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        p = self.params
        real = self.inconsistency(terms.real, terms.real_logits, terms.real_labels, terms, ctx)
        fake = self.inconsistency(terms.fake, terms.fake_logits, terms.fake_labels, terms, ctx)
        return loss + p.real_weight * real + p.fake_weight * fake

    def inconsistency(
        self, x: Tensor, logits: Tensor, labels: Tensor | None, terms: LossTerms, ctx: TrainContext
    ) -> Tensor:
        augmented = flip_and_shift(x.detach(), self.params.flip, self.params.shift_ratio, ctx)
        return F.mse_loss(terms.discriminate(augmented, labels), logits)


class LatentConsistencyParams(TrickParams):
    sigma: float = Field(0.03, gt=0.0, le=1.0, description="sigma_noise of dz (paper: 0.03)")
    discriminator_weight: float = Field(5.0, ge=0.0, le=1000.0, description="lambda_dis (5)")
    generator_weight: float = Field(0.5, ge=0.0, le=1000.0, description="lambda_gen (0.5)")


@register
class LatentConsistency(Trick):
    """zCR: D must score G(z) and G(z + dz) alike; G must make them differ.

    Zhao et al. (2021), Alg. 2: dz ~ N(0, sigma^2 I); D's loss gains lambda_dis *
    ||D(G(z)) - D(G(z + dz))||^2 and G's loss loses lambda_gen * ||G(z) - G(z + dz)||^2,
    which pushes G to spread nearby latents apart (against mode collapse).
    """

    name = "zcr"
    capturable = True
    family = "regularization"
    citation = f"{CITATION}, Alg. 2 (zCR)"
    Params = LatentConsistencyParams
    refuses_conditioning = {"condition_image": "pix2pix's G takes an input image, not a latent"}

    def perturbed(self, terms: LossTerms, ctx: TrainContext) -> Tensor:
        z = terms.latent
        dz = torch.randn(z.shape, generator=ctx.rng, device=z.device) * self.params.sigma
        return call_net(terms.generator, z + dz, terms.fake_labels, terms.condition_image)

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        with torch.no_grad():
            moved = self.perturbed(terms, ctx)
        logits = terms.discriminate(moved, terms.fake_labels)
        return loss + self.params.discriminator_weight * F.mse_loss(logits, terms.fake_logits)

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        spread = F.mse_loss(self.perturbed(terms, ctx), terms.generated)
        return loss - self.params.generator_weight * spread
