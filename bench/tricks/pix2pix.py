"""pix2pix on a paired task built from the image data: complete a masked image.

G (a U-Net) gets the masked real image and outputs the whole image; D (a PatchGAN) sees
(masked image, image) pairs and gives one logit per patch. Both declare
`conditioning = {"condition_image"}`: the loop passes them the real batch, which they
mask themselves; evaluation completes masked images of the test split.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register

Mask = Literal["bottom_half", "right_half"]
BACKGROUND = -1.0  # masked pixels: the data's minimum ([-1, 1] images)
DROPOUT_LAYERS = 3  # pix2pix: dropout in the first three (innermost) decoder blocks


def masked(image: Tensor, mask: Mask) -> Tensor:
    """`image` with its bottom (or right) half set to the background value."""
    keep = torch.ones_like(image)
    if mask == "bottom_half":
        keep[..., image.shape[-2] // 2 :, :] = 0
    else:
        keep[..., image.shape[-1] // 2 :] = 0
    return image * keep + BACKGROUND * (1 - keep)


class Dropout(nn.Module):
    """Dropout that stays on at evaluation when `at_test` (pix2pix's noise source)."""

    def __init__(self, p: float, at_test: bool) -> None:
        super().__init__()
        self.p, self.at_test = p, at_test

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, training=self.training or self.at_test)


class UNetGenerator(nn.Module):
    """U-Net from the masked image down to 1x1 and back, with skip connections; tanh output.

    Isola et al. (2017), appendix 6.1.1: C64-C128-C256-C512... encoder (no batch norm in the
    first block), decoder with dropout in its first three blocks, skips between mirrored
    layers. `z` is ignored: G's noise is dropout.
    """

    conditioning = frozenset({"condition_image"})

    def __init__(
        self, channels: int, size: int, width: int, dropout: float, at_test: bool, mask: Mask
    ) -> None:
        super().__init__()
        self.mask = mask
        depth = int(math.log2(size))
        widths = [min(width * 2**i, 8 * width) for i in range(depth)]
        self.down = nn.ModuleList()
        for i in range(depth):
            fan_in = channels if i == 0 else widths[i - 1]
            block: OrderedDict[str, nn.Module] = OrderedDict(
                conv=nn.Conv2d(fan_in, widths[i], 4, 2, 1, bias=False)
            )
            if 0 < i < depth - 1:
                block["norm"] = nn.BatchNorm2d(widths[i])
            block["act"] = nn.LeakyReLU(0.2)
            self.down.append(nn.Sequential(block))
        self.up = nn.ModuleList()
        for i in range(depth):
            inner = depth - 1 - i  # the encoder level this block mirrors
            fan_in = widths[inner] * (1 if i == 0 else 2)
            fan_out = channels if inner == 0 else widths[inner - 1]
            block = OrderedDict(conv=nn.ConvTranspose2d(fan_in, fan_out, 4, 2, 1, bias=False))
            if inner == 0:
                block["act"] = nn.Tanh()
            else:
                block["norm"] = nn.BatchNorm2d(fan_out)
                if i < DROPOUT_LAYERS and dropout > 0:
                    block["dropout"] = Dropout(dropout, at_test)
                block["act"] = nn.ReLU()
            self.up.append(nn.Sequential(block))

    def forward(self, z: Tensor, condition_image: Tensor) -> Tensor:
        h = masked(condition_image, self.mask)
        skips = []
        for block in self.down:
            h = block(h)
            skips.append(h)
        for i, block in enumerate(self.up):
            if i > 0:
                h = torch.cat([h, skips[-1 - i]], dim=1)
            h = block(h)
        return h


class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional D on (masked image, image), one logit per patch.

    Isola et al. (2017), appendix 6.1.2 (C64-C128-..., no batch norm in the first layer),
    shortened to three layers for small images.
    """

    conditioning = frozenset({"condition_image"})

    def __init__(self, channels: int, width: int, mask: Mask) -> None:
        super().__init__()
        self.mask = mask
        self.net = nn.Sequential(
            OrderedDict(
                from_pair=nn.Conv2d(2 * channels, width, 4, 2, 1),
                from_pair_act=nn.LeakyReLU(0.2),
                hidden=nn.Conv2d(width, 2 * width, 4, 1, 1, bias=False),
                hidden_norm=nn.BatchNorm2d(2 * width),
                hidden_act=nn.LeakyReLU(0.2),
                to_logits=nn.Conv2d(2 * width, 1, 4, 1, 1),
            )
        )
        self.feature_layer = self.net.to_logits

    def forward(self, x: Tensor, condition_image: Tensor) -> Tensor:
        return self.net(torch.cat([masked(condition_image, self.mask), x], dim=1)).flatten(1)


class Pix2PixParams(TrickParams):
    l1_weight: float = Field(100.0, ge=0.0, le=10_000.0, description="lambda of the L1 term")
    decoder_dropout: float = Field(0.5, ge=0.0, lt=1.0, description="dropout in the decoder")
    dropout_at_test: bool = Field(True, description="keep dropout on when sampling")
    mask: Mask = Field("bottom_half", description="which half of the image G must complete")
    width: int = Field(64, ge=4, le=512, description="channels of the first conv (ngf = ndf)")


@register
class Pix2Pix(Trick):
    """pix2pix: U-Net G and PatchGAN D complete masked images, with an L1 term to the truth.

    Isola et al. (2017), "Image-to-Image Translation with Conditional Adversarial Networks":
    L1 weight 100, decoder dropout 0.5 at train and test time, 64 base channels. The task is
    built from the dataset: G sees the image with its bottom (or right) half masked.
    """

    name = "pix2pix"
    family = "hybrids"
    citation = "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks"
    Params = Pix2PixParams
    needs = frozenset({"images"})
    replaces_networks = True
    conditions_on = frozenset({"condition_image"})
    reads_real_in_g_step = True  # the L1 term to the true image
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        p = self.params
        channels, size = ctx.data_shape[0], ctx.data_shape[1]
        return UNetGenerator(channels, size, p.width, p.decoder_dropout, p.dropout_at_test, p.mask)

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        return PatchDiscriminator(ctx.data_shape[0], self.params.width, self.params.mask)

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        return loss + self.params.l1_weight * (terms.generated - terms.real).abs().mean()
