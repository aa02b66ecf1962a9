"""How G upsamples and D downsamples: transposed/strided convs (DCGAN) or the alternatives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field
from torch import nn

from bench.models.surgery import fresh, replace_layer, require_sequential
from bench.tricks.registry import TrainContext, Trick, TrickParams, register

REMOVES_TRANSPOSED = (
    "generator_kernel_size sets the kernel of transposed convs that generator_upsampling removes"
)


def strided(layer: nn.Module, kind: type[nn.Module]) -> bool:
    """Is `layer` a conv of type `kind` that resamples by 2 (the DCGAN up/down layers)?"""
    return isinstance(layer, kind) and tuple(layer.stride) == (2, 2)


def replace_strided(
    net: nn.Module, kind: type[nn.Module], build: Callable[[nn.Module], nn.Module]
) -> nn.Module:
    """`net` with each stride-2 child of type `kind` replaced by a freshly initialised `build`."""
    for name, layer in list(net.named_children()):
        if strided(layer, kind):
            replace_layer(net, name, fresh(build(layer)))
    return net


class ResamplingRewrite(Trick):
    """Shared by the tricks that rewrite the DCGAN's resampling layers (not registered itself)."""

    family = "architecture"
    needs = frozenset({"images"})
    order = 25
    capturable = True


def dense_projection(layer: nn.ConvTranspose2d) -> nn.Sequential:
    """G's 1x1 -> kxk transposed conv as what it computes: a linear map, then a reshape."""
    size = layer.kernel_size[0]
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(layer.in_channels, layer.out_channels * size * size, bias=layer.bias is not None),
        nn.Unflatten(1, (layer.out_channels, size, size)),
    )


def upsampler(layer: nn.ConvTranspose2d, kind: str) -> nn.Sequential:
    """A x2 upsampling of `layer`'s channels: nearest + 3x3 conv, or 3x3 conv + pixel shuffle."""
    fan_in, fan_out, bias = layer.in_channels, layer.out_channels, layer.bias is not None
    if kind == "nearest":
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(fan_in, fan_out, 3, 1, 1, bias=bias),
        )
    return nn.Sequential(nn.Conv2d(fan_in, fan_out * 4, 3, 1, 1, bias=bias), nn.PixelShuffle(2))


class UpsamplingParams(TrickParams):
    kind: Literal["pixel_shuffle", "nearest"] = Field(
        "nearest", description="replacement for G's transposed convolutions"
    )


@register
class GeneratorUpsampling(ResamplingRewrite):
    """Upsample in G by nearest-neighbour resize + conv, or by pixel shuffle, not transposed conv.

    Odena, Dumoulin & Olah (2016), "Deconvolution and Checkerboard Artifacts" (resize-conv,
    the default); Shi et al. (2016) for pixel shuffle (sub-pixel conv). G's first layer, a
    1x1 -> 4x4 transposed conv, becomes the dense projection and reshape it computes.
    """

    name = "generator_upsampling"
    citation = "Odena et al. 2016, Deconvolution and Checkerboard Artifacts (Distill)"
    Params = UpsamplingParams
    conflicts = {"generator_kernel_size": REMOVES_TRANSPOSED}

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        net = require_sequential(generator, self.name)
        project = net._modules.get("project")
        if isinstance(project, nn.ConvTranspose2d):
            replace_layer(net, "project", fresh(dense_projection(project)))
        return replace_strided(net, nn.ConvTranspose2d, lambda t: upsampler(t, self.params.kind))


class DownsamplingParams(TrickParams):
    kind: Literal["avg_pool", "max_pool"] = Field(
        "avg_pool", description="pooling after a 3x3 stride-1 conv, replacing D's strided convs"
    )


@register
class DiscriminatorDownsampling(ResamplingRewrite):
    """Downsample in D by a 3x3 conv + 2x2 average or max pooling instead of a strided conv.

    Radford et al. (2016), DCGAN, sec. 3, replaced pooling by strided convs (after Springenberg
    et al. 2015, "Striving for Simplicity: The All Convolutional Net"); this puts pooling back.
    Average pooling is the default: ganhacks tip 5 warns that max pooling gives sparse gradients.
    """

    name = "discriminator_downsampling"
    citation = "Radford et al. 2016, DCGAN, sec. 3; Springenberg et al. 2015"
    Params = DownsamplingParams

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        pool = nn.AvgPool2d if self.params.kind == "avg_pool" else nn.MaxPool2d

        def pooled(conv: nn.Conv2d) -> nn.Sequential:
            bias = conv.bias is not None
            return nn.Sequential(
                nn.Conv2d(conv.in_channels, conv.out_channels, 3, 1, 1, bias=bias), pool(2)
            )

        return replace_strided(require_sequential(discriminator, self.name), nn.Conv2d, pooled)


class KernelSizeParams(TrickParams):
    size: int = Field(
        3, ge=2, le=7, description="kernel of G's stride-2 transposed convs (DCGAN: 4)"
    )


def transposed_conv(layer: nn.ConvTranspose2d, size: int) -> nn.ConvTranspose2d:
    """`layer` with a size x size kernel, padded so that it still exactly doubles H and W."""
    padding = (size - 1) // 2
    return nn.ConvTranspose2d(
        layer.in_channels,
        layer.out_channels,
        size,
        stride=2,
        padding=padding,
        output_padding=2 + 2 * padding - size,
        bias=layer.bias is not None,
    )


@register
class GeneratorKernelSize(ResamplingRewrite):
    """Set the kernel of G's stride-2 transposed convs; 3x3 is not divisible by the stride.

    Odena, Dumoulin & Olah (2016), "Deconvolution and Checkerboard Artifacts": a kernel not
    divisible by the stride overlaps unevenly and draws checkerboards; DCGAN's 4x4 does not.
    Default 3, the uneven case.
    """

    name = "generator_kernel_size"
    citation = "Odena et al. 2016, Deconvolution and Checkerboard Artifacts (Distill)"
    Params = KernelSizeParams
    conflicts = {"generator_upsampling": REMOVES_TRANSPOSED}

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        net = require_sequential(generator, self.name)
        return replace_strided(
            net, nn.ConvTranspose2d, lambda t: transposed_conv(t, self.params.size)
        )
