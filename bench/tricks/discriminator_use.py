"""Training-time use of D beyond the loss: latent optimisation and top-k generator updates."""

from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import Tensor

from bench.models.conditioning import call_net
from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register

IGNORES_LATENT = "pix2pix's G takes an input image, not a latent"


class LatentOptimisationParams(TrickParams):
    step_size: float = Field(0.9, gt=0.0, le=10.0, description="alpha of the natural-gradient step")
    damping: float = Field(5.0, gt=0.0, le=100.0, description="beta: alpha / (beta + ||g||^2)")


@register
class LatentOptimisation(Trick):
    """Before each G update, move z one natural-gradient step towards a higher D(G(z)).

    Wu et al. (2019), "LOGAN: Latent Optimisation for Generative Adversarial Networks",
    eq. 8: dz = alpha / (beta + ||g||^2) * g with g = d D(G(z)) / dz, not back-propagated
    through; alpha 0.9 and beta 5 are its settings. Training only: evaluation samples z
    from the prior.
    """

    name = "latent_optimisation"
    family = "discriminator_use"
    citation = "Wu et al. 2019, LOGAN, eq. 8"
    Params = LatentOptimisationParams
    refuses_conditioning = {"condition_image": IGNORES_LATENT}
    order = 80  # after the latent distribution tricks
    capturable = True

    def sample_latent(self, z: Tensor, labels: Tensor | None, ctx: TrainContext) -> Tensor:
        if ctx.phase != "g" or ctx.nets is None:
            return z
        with torch.enable_grad():
            start = z.detach().requires_grad_(True)
            fake = call_net(ctx.nets.generator, start, labels)
            score = call_net(ctx.nets.discriminator, fake, labels).sum()
            (grad,) = torch.autograd.grad(score, start)
        squared = (grad**2).sum(dim=1, keepdim=True)
        return (start + self.params.step_size / (self.params.damping + squared) * grad).detach()


class TopKParams(TrickParams):
    decay: float = Field(0.99, gt=0.0, le=1.0, description="gamma: k shrinks by this per period")
    minimum_fraction: float = Field(
        0.5, gt=0.0, le=1.0, description="nu: k never falls below this fraction of the batch"
    )
    iterations_per_decay: int | None = Field(
        None, ge=1, description="iterations per decay period; None: one epoch, as the paper"
    )


@register
class TopKTraining(Trick):
    """Update G only from the k fakes D scores highest; k shrinks from the batch to nu * batch.

    Sinha et al. (2020), "Top-k Training of GANs: Improving GAN Performance by Throwing Away
    Bad Samples": k = max(gamma^e * batch, nu * batch) after e epochs, gamma = 0.99, and
    nu = 0.5 as in the authors' code (min_topk_rate). An epoch is ceil(training samples /
    batch size) iterations unless `iterations_per_decay` is set. Replaces G's loss (runs
    before additive terms).
    """

    name = "top_k_training"
    family = "discriminator_use"
    citation = "Sinha et al. 2020, Top-k Training of GANs"
    Params = TopKParams
    conflicts = {"feature_matching": "both replace G's loss"}
    order = 20
    capturable = True

    def __init__(self, params: TopKParams) -> None:
        super().__init__(params)
        self.period = params.iterations_per_decay  # None until the data's epoch is known

    def prepare_data(self, data: Tensor, ctx: TrainContext) -> Tensor:
        if self.params.iterations_per_decay is None:
            self.period = math.ceil(data.shape[0] / ctx.batch_size)
        return data

    def kept_fraction(self, ctx: TrainContext) -> Tensor:
        p = self.params
        if self.period is None:
            raise RuntimeError("top_k_training: the epoch length is set by prepare_data")
        periods = torch.floor(ctx.step / self.period)
        return (p.decay**periods).clamp(min=p.minimum_fraction)

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        logits = terms.fake_logits
        scores = logits.detach().flatten(1).mean(1) if logits.dim() > 1 else logits.detach()
        k = torch.ceil(self.kept_fraction(ctx) * scores.shape[0])
        rank = scores.argsort(descending=True).argsort()
        keep = (rank < k).to(logits.dtype)
        per_sample = terms.objective.generator(logits)
        if per_sample.dim() > 1:
            per_sample = per_sample.flatten(1).mean(1)
        return (per_sample * keep).sum() / keep.sum()
