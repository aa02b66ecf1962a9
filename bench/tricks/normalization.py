"""Normalization layers in G and D: which kind replaces batch norm, and where it goes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from bench.models.surgery import (
    fresh,
    insert_after,
    layer_shapes,
    replace_modules,
    require_layer,
    require_sequential,
)
from bench.tricks.registry import TrainContext, Trick, TrickParams, register

NormKind = Literal["instance", "layer", "none"]


def make_norm(kind: NormKind, channels: int) -> nn.Module:
    """instance: per sample and channel; layer: per sample over (C, H, W); none: identity."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def replace_batch_norms(net: nn.Module, kind: NormKind, trick: str) -> nn.Module:
    """Every `BatchNorm2d` of `net` becomes a norm of `kind` over the same channels."""
    net = require_sequential(net, trick)
    replace_modules(net, nn.BatchNorm2d, lambda bn: make_norm(kind, bn.num_features))
    return net


class NormalizationTrick(Trick):
    """Shared by the tricks that change the DCGAN's batch norms (not registered itself)."""

    family = "normalization"
    needs = frozenset({"images"})
    order = 40
    capturable = True


class GeneratorNormParams(TrickParams):
    kind: NormKind = Field("instance", description="norm replacing G's batch norm")


@register
class GeneratorNorm(NormalizationTrick):
    """Replace batch norm in G by instance norm, layer norm or nothing.

    Ulyanov et al. (2016), "Instance Normalization: The Missing Ingredient for Fast
    Stylization"; compared in G by Kurach et al. (2019), "A Large-Scale Study on Regularization
    and Normalization in GANs". Default `instance`, the norm of pix2pix/CycleGAN generators.
    Replaces every batch norm, including one added by `batchnorm_everywhere`.
    """

    name = "generator_norm"
    citation = "Ulyanov et al. 2016 (instance norm); Kurach et al. 2019 (norms in GANs compared)"
    Params = GeneratorNormParams
    conflicts = {"virtual_batch_norm": "both replace G's batch norm layers"}

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        return replace_batch_norms(generator, self.params.kind, self.name)


class DiscriminatorNormParams(TrickParams):
    kind: NormKind = Field("layer", description="norm replacing D's batch norm")


@register
class DiscriminatorNorm(NormalizationTrick):
    """Replace batch norm in D by layer norm, instance norm or nothing.

    Gulrajani et al. (2017), "Improved Training of Wasserstein GANs", sec. 4: batch norm makes
    each output depend on the whole batch; they recommend layer norm in D (the default here).
    Replaces every batch norm, including one added by `batchnorm_everywhere`.
    """

    name = "discriminator_norm"
    citation = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs, sec. 4"
    Params = DiscriminatorNormParams

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        return replace_batch_norms(discriminator, self.params.kind, self.name)


class BatchNormEverywhereParams(TrickParams):
    generator: bool = Field(True, description="batch norm after G's output layer (before tanh)")
    discriminator: bool = Field(True, description="batch norm after D's input layer")


@register
class BatchNormEverywhere(NormalizationTrick):
    """Add batch norm at G's output and D's input, the two places DCGAN leaves it out.

    Radford et al. (2016), DCGAN, sec. 3: "applying batchnorm to all layers ... resulted in
    sample oscillation and model instability", avoided by not applying it there. This trick
    breaks that rule, so a suite can check it.
    """

    name = "batchnorm_everywhere"
    citation = "Radford et al. 2016, DCGAN, sec. 3 (no batch norm at G output and D input)"
    Params = BatchNormEverywhereParams
    order = 35  # before the norms are replaced, so they replace the added ones too

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        if self.params.generator:
            self._norm_after(generator, "to_image", (ctx.latent_dim,))
        return generator

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        if self.params.discriminator:
            self._norm_after(discriminator, "from_image", ctx.data_shape)
        return discriminator

    def _norm_after(self, net: nn.Module, anchor: str, sample_shape: tuple[int, ...]) -> None:
        net = require_sequential(net, self.name)
        require_layer(net, anchor, self.name)
        channels = layer_shapes(net, sample_shape)[anchor].output[1]
        insert_after(net, anchor, f"{anchor}_norm", fresh(nn.BatchNorm2d(channels)))
