"""Sampling-time tricks: truncated latents, D-based rejection sampling, Langevin refinement.

They change only how the scored samples are drawn from the trained G; a job that uses any
of them also records its metrics without them (`metrics_without_sampling_tricks`).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from bench.models.conditioning import call_net
from bench.tricks.registry import Nets, TrainContext, Trick, TrickParams, register

MAX_ROUNDS = 1000
TAKES_IMAGE = "pix2pix's G takes an input image, not a latent"


def scores(nets: Nets, z: Tensor, labels: Tensor | None) -> Tensor:
    """D's logit for G(z), one per sample."""
    logits = call_net(nets.discriminator, call_net(nets.generator, z, labels), labels)
    return logits.flatten(1).mean(1) if logits.dim() > 1 else logits


def _prior(ctx: TrainContext, n: int) -> tuple[Tensor, Tensor | None]:
    if ctx.latent_prior is None:
        raise RuntimeError("sampling tricks need ctx.latent_prior (set by the evaluation)")
    return ctx.latent_prior(n)


class TruncationParams(TrickParams):
    threshold: float = Field(1.0, gt=0.0, le=4.0, description="resample |z_i| above this")


@register
class Truncation(Trick):
    """Resample every latent component whose magnitude exceeds `threshold` (the truncation trick).

    Brock et al. (2019), "Large Scale GAN Training for High Fidelity Natural Image Synthesis"
    (BigGAN), sec. 3.1; they sweep the threshold (2.0 down to 0.04); 1.0 is the default.
    Resampled components come from the job's latent distribution.
    """

    name = "truncation"
    family = "sampling"
    citation = "Brock et al. 2019, BigGAN, sec. 3.1"
    Params = TruncationParams
    refuses_conditioning = {"condition_image": TAKES_IMAGE}
    order = 20
    capturable = True

    def sample(self, z: Tensor, labels: Tensor | None, ctx: TrainContext):
        limit = self.params.threshold
        for _ in range(MAX_ROUNDS):
            outside = z.abs() > limit
            if not outside.any():
                break
            z = torch.where(outside, _prior(ctx, z.shape[0])[0], z)
        return z.clamp(-limit, limit), labels


class RejectionParams(TrickParams):
    gamma_percentile: float = Field(
        80.0, ge=0.0, le=100.0, description="gamma: this percentile of F per batch is subtracted"
    )
    epsilon: float = Field(1e-6, gt=0.0, le=1e-2, description="keeps log(1 - exp(.)) finite")
    burn_in: int = Field(
        10_000, ge=1, le=1_000_000, description="samples scored for D_max before any is drawn"
    )


NOT_A_DENSITY_RATIO = (
    "rejection sampling reads D's logit as log p_data/p_g (Azadi et al. 2019, sec. 3), which "
    "holds only for the cross-entropy objective; under the {} loss it is not a log density "
    "ratio, so the acceptance probability is invalid"
)


@register
class RejectionSampling(Trick):
    """Discriminator rejection sampling: accept G(z) with a probability computed from D's logit.

    Azadi et al. (2019), "Discriminator Rejection Sampling", Alg. 1: F = D - D_max -
    log(1 - exp(D - D_max - eps)) - gamma, accept with probability sigmoid(F); D_max is the
    largest logit over a burn-in of 10,000 samples (as in Alg. 1), raised whenever a larger
    one is seen; gamma a percentile of F (the paper tunes it; 80 here), eps 1e-6. D is used
    as trained (the paper also fine-tunes it for calibration), so only objectives whose
    optimal logit is log p_data/p_g (cross-entropy) are allowed: hinge, least squares and
    Wasserstein are refused.
    """

    name = "rejection_sampling"
    family = "sampling"
    citation = "Azadi et al. 2019, Discriminator Rejection Sampling, Alg. 1"
    Params = RejectionParams
    refuses_conditioning = {"condition_image": TAKES_IMAGE}
    conflicts = {
        "truncation": "rejection sampling draws its own candidates from the untruncated prior",
        "hinge_loss": NOT_A_DENSITY_RATIO.format("hinge"),
        "least_squares_loss": NOT_A_DENSITY_RATIO.format("least-squares"),
        "wasserstein_loss": NOT_A_DENSITY_RATIO.format("Wasserstein"),
    }
    order = 60
    capturable = True

    def setup(self, ctx: TrainContext) -> None:
        self.burnt_in: tuple[tuple[int, int, float], Tensor] | None = None

    def acceptance(self, logits: Tensor, max_logit: Tensor) -> Tensor:
        shifted = logits - max_logit - self.params.epsilon
        f = shifted - torch.log1p(-torch.exp(shifted))
        gamma = torch.quantile(f, self.params.gamma_percentile / 100.0)
        return torch.sigmoid(f - gamma)

    def max_logit(self, ctx: TrainContext, batch: int) -> Tensor:
        """D_max over `burn_in` prior samples, once per (G, D, training step) pair."""
        nets = ctx.nets
        key = (id(nets.generator), id(nets.discriminator), float(ctx.step))
        if self.burnt_in is None or self.burnt_in[0] != key:
            best = torch.tensor(-torch.inf, device=ctx.device)
            for start in range(0, self.params.burn_in, batch):
                z, labels = _prior(ctx, min(batch, self.params.burn_in - start))
                best = torch.maximum(best, scores(nets, z, labels).max())
            self.burnt_in = (key, best)
        return self.burnt_in[1]

    @torch.no_grad()
    def sample(self, z: Tensor, labels: Tensor | None, ctx: TrainContext):
        n, nets = z.shape[0], ctx.nets
        kept_z, kept_labels, count = [], [], 0
        max_logit = self.max_logit(ctx, max(n, 1))
        candidates, candidate_labels = z, labels
        for _ in range(MAX_ROUNDS):
            logits = scores(nets, candidates, candidate_labels)
            max_logit = torch.maximum(max_logit, logits.max())
            draws = torch.rand(logits.shape, generator=ctx.rng, device=logits.device)
            accepted = draws < self.acceptance(logits, max_logit)
            kept_z.append(candidates[accepted])
            if candidate_labels is not None:
                kept_labels.append(candidate_labels[accepted])
            count += int(accepted.sum())
            if count >= n:
                break
            candidates, candidate_labels = _prior(ctx, n)
        else:  # acceptance too rare: top up with the last candidates
            kept_z.append(candidates)
            if candidate_labels is not None:
                kept_labels.append(candidate_labels)
        self.burnt_in = (self.burnt_in[0], max_logit)
        chosen = torch.cat(kept_z)[:n]
        return chosen, (torch.cat(kept_labels)[:n] if labels is not None else None)


class LangevinParams(TrickParams):
    steps: int = Field(20, ge=1, le=10_000, description="Langevin steps per batch")
    step_size: float = Field(0.01, gt=0.0, le=1.0, description="epsilon of each Langevin step")


@register
class LangevinRefinement(Trick):
    """Refine z by Langevin dynamics on E(z) = ||z||^2 / 2 - D(G(z)), the energy G and D imply.

    Che et al. (2020), "Your GAN is Secretly an Energy-based Model" (DDLS): step size 0.01
    as there (the paper runs more steps; 20 keeps evaluation cheap); Ansari et al. (2021,
    DG-flow) refine along the same D-derived gradient. z <- z - eps/2 grad E + sqrt(eps) n.
    """

    name = "langevin_refinement"
    family = "sampling"
    citation = "Che et al. 2020 (DDLS); Ansari et al. 2021 (DG-flow)"
    Params = LangevinParams
    refuses_conditioning = {"condition_image": TAKES_IMAGE}
    conflicts = {"uniform_latent": "the energy's prior term assumes z ~ N(0, I)"}
    order = 70
    capturable = True

    def energy(self, nets: Nets, z: Tensor, labels: Tensor | None) -> Tensor:
        return 0.5 * (z**2).sum(dim=1) - scores(nets, z, labels)

    def sample(self, z: Tensor, labels: Tensor | None, ctx: TrainContext):
        eps = self.params.step_size
        for _ in range(self.params.steps):
            with torch.enable_grad():
                current = z.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(self.energy(ctx.nets, current, labels).sum(), current)
            noise = torch.randn(z.shape, generator=ctx.rng, device=z.device)
            z = (current - 0.5 * eps * grad + eps**0.5 * noise).detach()
        return z, labels
