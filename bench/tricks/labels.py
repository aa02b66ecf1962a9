"""Label tricks: what D is asked to output for real and fake batches."""

from __future__ import annotations

import torch
from pydantic import Field, model_validator
from torch import Tensor

from bench.tricks.registry import TrainContext, Trick, TrickParams, register


class LabelTrick(Trick):
    """Shared by the tricks that set D's targets (not registered itself)."""

    family = "labels"
    changes_targets = True  # objectives without targets refuse it (`ignores_targets`)
    order = 40
    capturable = True


class SmoothingParams(TrickParams):
    real_target: float = Field(0.9, ge=0.5, le=1.0, description="D's target for real data")


@register
class OneSidedLabelSmoothing(LabelTrick):
    """Replace D's real target 1 with `real_target`; fake targets stay 0.

    Salimans et al. (2016), "Improved Techniques for Training GANs", sec. 3.4 (0.9 there).
    Only the real side is smoothed: smoothing fakes would reinforce G's current samples.
    """

    name = "one_sided_label_smoothing"
    citation = "Salimans et al. 2016, Improved Techniques for Training GANs, sec. 3.4"
    Params = SmoothingParams
    conflicts = {"soft_labels": "both set the real target; use one label scheme at a time"}

    def d_targets(self, real_target: Tensor, fake_target: Tensor, ctx: TrainContext):
        return torch.full_like(real_target, self.params.real_target), fake_target


class SoftLabelParams(TrickParams):
    real_low: float = Field(0.7, ge=0.0, le=1.5)
    real_high: float = Field(1.2, ge=0.0, le=1.5)
    fake_low: float = Field(0.0, ge=0.0, le=1.0)
    fake_high: float = Field(0.3, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> SoftLabelParams:
        if self.real_low > self.real_high or self.fake_low > self.fake_high:
            raise ValueError("each range needs low <= high")
        return self


@register
class SoftLabels(LabelTrick):
    """Draw D's targets per sample: real ~ U[0.7, 1.2], fake ~ U[0, 0.3], every step.

    ganhacks (Chintala et al. 2016), tip 6 "Use Soft and Noisy Labels"; the ranges are its.
    """

    name = "soft_labels"
    citation = "ganhacks (Chintala et al. 2016), tip 6: Use Soft and Noisy Labels"
    Params = SoftLabelParams
    conflicts = {"one_sided_label_smoothing": "both set the real target"}

    def d_targets(self, real_target: Tensor, fake_target: Tensor, ctx: TrainContext):
        p = self.params
        real = _uniform_like(real_target, p.real_low, p.real_high, ctx.rng)
        fake = _uniform_like(fake_target, p.fake_low, p.fake_high, ctx.rng)
        return real, fake


class NoisyLabelParams(TrickParams):
    flip_probability: float = Field(0.05, ge=0.0, le=0.5, description="P(a target is flipped)")


@register
class NoisyLabels(LabelTrick):
    """Flip each of D's targets (t -> 1 - t) independently with `flip_probability`.

    ganhacks (Chintala et al. 2016), tip 6: "occasionally flip the labels when training the
    discriminator". Applied after smoothing tricks, so a smoothed 0.9 flips to 0.1.
    """

    name = "noisy_labels"
    citation = "ganhacks (Chintala et al. 2016), tip 6: Use Soft and Noisy Labels"
    Params = NoisyLabelParams
    order = 60

    def d_targets(self, real_target: Tensor, fake_target: Tensor, ctx: TrainContext):
        return self._flip(real_target, ctx), self._flip(fake_target, ctx)

    def _flip(self, target: Tensor, ctx: TrainContext) -> Tensor:
        draws = torch.rand(target.shape, generator=ctx.rng, device=target.device)
        return torch.where(draws < self.params.flip_probability, 1.0 - target, target)


def _uniform_like(like: Tensor, low: float, high: float, rng: torch.Generator) -> Tensor:
    draws = torch.rand(like.shape, generator=rng, device=like.device)
    return low + (high - low) * draws
