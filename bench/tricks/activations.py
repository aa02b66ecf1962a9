"""Activation functions: LeakyReLU vs ReLU in G and in D."""

from __future__ import annotations

from pydantic import Field
from torch import nn

from bench.models.surgery import replace_modules
from bench.tricks.registry import TrainContext, Trick, TrickParams, register


class LeakyReLUParams(TrickParams):
    negative_slope: float = Field(0.2, gt=0.0, lt=1.0, description="slope for inputs below 0")


@register
class LeakyReLUGenerator(Trick):
    """Use LeakyReLU instead of ReLU in every hidden layer of G.

    ganhacks (Chintala et al. 2016), tip 5 "Avoid Sparse Gradients: ReLU, MaxPool": LeakyReLU
    is good in both G and D; DCGAN (Radford et al. 2016) uses ReLU in G. Slope 0.2 as DCGAN's D.
    """

    name = "leaky_relu_generator"
    family = "architecture"
    citation = "ganhacks (Chintala et al. 2016), tip 5; Radford et al. 2016 (ReLU in G)"
    Params = LeakyReLUParams
    order = 30
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        slope = self.params.negative_slope
        replace_modules(generator, nn.ReLU, lambda _: nn.LeakyReLU(slope))
        return generator


@register
class ReLUDiscriminator(Trick):
    """Use ReLU instead of LeakyReLU(0.2) in every hidden layer of D.

    Radford et al. (2016), DCGAN, sec. 3: "within the discriminator we found the leaky
    rectified activation to work well" (Maas et al. 2013); this trick removes it.
    """

    name = "relu_discriminator"
    family = "architecture"
    citation = "Radford et al. 2016, DCGAN, sec. 3 (LeakyReLU in D)"
    order = 30
    capturable = True

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        replace_modules(discriminator, nn.LeakyReLU, lambda _: nn.ReLU())
        return discriminator
