"""DiffAugment: the same differentiable augmentations on every real and fake batch D sees."""

from __future__ import annotations

import torch
from pydantic import Field, model_validator
from torch import Tensor

from bench.tricks.registry import TrainContext, Trick, TrickParams, register

PAIRED = "pix2pix's D judges each image against its input; transforming one alone breaks the pair"


def _uniform(n: int, like: Tensor, ctx: TrainContext) -> Tensor:
    """U[0, 1) per example, shaped to broadcast over [N, C, H, W]."""
    return torch.rand(n, 1, 1, 1, generator=ctx.rng, device=like.device, dtype=like.dtype)


def colour(x: Tensor, ctx: TrainContext) -> Tensor:
    """Random brightness (+U[-0.5, 0.5]), saturation (x U[0, 2]), contrast (x U[0.5, 1.5])."""
    n = x.shape[0]
    x = x + (_uniform(n, x, ctx) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (2 * _uniform(n, x, ctx)) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(n, x, ctx) + 0.5) + mean


def _offsets(n: int, low: int, high: int, x: Tensor, ctx: TrainContext) -> Tensor:
    """Integer offsets drawn uniformly from low..high inclusive, one per example [N, 1, 1]."""
    return torch.randint(low, high + 1, (n, 1, 1), generator=ctx.rng, device=x.device)


def translation(x: Tensor, ratio: float, ctx: TrainContext) -> Tensor:
    """Shift each image by up to `ratio` of its size in x and y, filling with zeros."""
    n, _, h, w = x.shape
    dy, dx = round(h * ratio), round(w * ratio)
    rows = torch.arange(h, device=x.device)[None, :, None] - _offsets(n, -dy, dy, x, ctx)
    cols = torch.arange(w, device=x.device)[None, None, :] - _offsets(n, -dx, dx, x, ctx)
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).flatten(1)  # [N, H*W]
    gathered = x.flatten(2).gather(2, index.unsqueeze(1).expand(-1, x.shape[1], -1))
    return gathered.view_as(x) * inside.to(x.dtype)


def cutout(x: Tensor, ratio: float, ctx: TrainContext) -> Tensor:
    """Zero one square of side `ratio` x the image size per image, centred anywhere in it."""
    n, _, h, w = x.shape
    sh, sw = round(h * ratio), round(w * ratio)
    top = _offsets(n, 0, h - 1, x, ctx) - sh // 2
    left = _offsets(n, 0, w - 1, x, ctx) - sw // 2
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    hole = (rows >= top) & (rows < top + sh) & (cols >= left) & (cols < left + sw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


class DiffAugmentParams(TrickParams):
    colour: bool = Field(True, description="random brightness, saturation and contrast")
    translation: bool = Field(True, description="random shifts, zero fill")
    cutout: bool = Field(True, description="one zeroed square per image")
    translation_ratio: float = Field(0.125, gt=0.0, le=0.5, description="max shift / size")
    cutout_ratio: float = Field(0.5, gt=0.0, le=1.0, description="square side / size")

    @model_validator(mode="after")
    def _some_augmentation(self) -> DiffAugmentParams:
        if not (self.colour or self.translation or self.cutout):
            raise ValueError("enable colour, translation or cutout (or several)")
        return self


@register
class DiffAugment(Trick):
    """Augment every batch D sees, real and fake, in D and G updates, differentiably.

    Zhao et al. (2020), "Differentiable Augmentation for Data-Efficient GAN Training":
    augmenting only the reals changes the distribution G must match, so the same random
    transforms T apply to reals and fakes, and G's loss back-propagates through T(G(z)).
    Policy "color,translation,cutout" (their default with limited data): translation by up
    to 1/8 of the image, cutout of half its side. Each image draws its own transform
    (saturation leaves grayscale images unchanged).
    """

    name = "diffaugment"
    capturable = True
    family = "augmentation"
    citation = "Zhao et al. 2020, Differentiable Augmentation for Data-Efficient GAN Training"
    Params = DiffAugmentParams
    needs = frozenset({"images"})
    refuses_conditioning = {"condition_image": PAIRED}
    order = 60

    def augment(self, x: Tensor, ctx: TrainContext) -> Tensor:
        p = self.params
        if p.colour:
            x = colour(x, ctx)
        if p.translation:
            x = translation(x, p.translation_ratio, ctx)
        if p.cutout:
            x = cutout(x, p.cutout_ratio, ctx)
        return x

    def d_inputs(
        self, real: Tensor | None, fake: Tensor, ctx: TrainContext
    ) -> tuple[Tensor | None, Tensor]:
        return None if real is None else self.augment(real, ctx), self.augment(fake, ctx)
