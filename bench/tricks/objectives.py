"""Objectives other than BCE on logits, and the WGAN-GP gradient penalty.

Each objective trick only names an objective of `bench.train.losses`; the loop computes it.
At most one objective trick may be enabled (refused before any job starts otherwise).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register


@register
class HingeLoss(Trick):
    """Hinge loss: D minimises relu(1 - D(x)) + relu(1 + D(G(z))), G minimises -D(G(z)).

    Lim & Ye (2017), "Geometric GAN"; used by Miyato et al. (2018, SN-GAN) and BigGAN.
    No parameters.
    """

    name = "hinge_loss"
    family = "losses"
    citation = "Lim & Ye 2017, Geometric GAN; Miyato et al. 2018"
    objective = "hinge"
    ignores_targets = True  # refused beside label tricks (`changes_targets`)
    capturable = True


@register
class LeastSquaresLoss(Trick):
    """Least-squares loss (LSGAN, 0-1 coding): squared distance of D's output to its target.

    Mao et al. (2017), "Least Squares Generative Adversarial Networks", eq. 9 (a=0, b=c=1).
    Label tricks still set the targets.
    """

    name = "least_squares_loss"
    family = "losses"
    citation = "Mao et al. 2017, Least Squares GANs"
    objective = "least_squares"
    capturable = True


@register
class WassersteinLoss(Trick):
    """Wasserstein loss: the critic maximises D(x) - D(G(z)); G maximises D(G(z)).

    Arjovsky et al. (2017), "Wasserstein GAN". The critic must be kept Lipschitz: combine it
    with `gradient_penalty` (Gulrajani et al. 2017) or spectral normalisation.
    """

    name = "wasserstein_loss"
    family = "losses"
    citation = "Arjovsky et al. 2017, Wasserstein GAN"
    objective = "wasserstein"
    ignores_targets = True
    capturable = True


@register
class ExplicitSigmoidBCE(Trick):
    """BCE written as sigmoid then log(D + eps), instead of the stable BCE-with-logits.

    The form of the original DCGAN-era implementations (eps 1e-8, e.g. carpedm20's
    DCGAN-tensorflow); ablates numerical stability against the default logits-based BCE.
    """

    name = "explicit_sigmoid_bce"
    family = "losses"
    citation = "Goodfellow et al. 2014 objective, sigmoid + log(D + eps) form"
    objective = "explicit_sigmoid_bce"
    capturable = True


class GradientPenaltyParams(TrickParams):
    weight: float = Field(10.0, gt=0.0, le=1000.0, description="lambda (Gulrajani et al.: 10)")


@register
class GradientPenalty(Trick):
    """Add lambda * E[(||grad D(x_hat)|| - 1)^2] to D's loss, x_hat between real and fake.

    Gulrajani et al. (2017), "Improved Training of Wasserstein GANs" (WGAN-GP), Alg. 1;
    lambda = 10 there. They advise against batch norm in the critic (layer norm instead).
    """

    name = "gradient_penalty"
    family = "losses"
    citation = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs"
    Params = GradientPenaltyParams
    capturable = True

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        return loss + self.params.weight * self.penalty(terms, ctx)

    def penalty(self, terms: LossTerms, ctx: TrainContext) -> Tensor:
        real, fake = terms.real, terms.fake.detach()
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        mix = torch.rand(shape, generator=ctx.rng, device=real.device)
        between = (mix * real.detach() + (1 - mix) * fake).requires_grad_(True)
        logits = terms.discriminate(between, terms.real_labels)
        (grad,) = torch.autograd.grad(logits.sum(), between, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
