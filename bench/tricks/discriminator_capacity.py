"""D's capacity relative to G: rebuild D with its widths multiplied by a factor."""

from __future__ import annotations

from pydantic import Field
from torch import nn

from bench.errors import ConfigError
from bench.models.build import dcgan_init
from bench.models.dcgan import DCGANDiscriminator
from bench.models.mlp import MLPDiscriminator
from bench.models.resnet import ResNetDiscriminator, resnet_init
from bench.tricks.registry import TrainContext, Trick, TrickParams, register


class CapacityParams(TrickParams):
    factor: float = Field(
        2.0, ge=0.125, le=8.0, description="D's width (channels or hidden units) x this"
    )


def scaled(width: int, factor: float) -> int:
    return max(1, round(width * factor))


@register
class DiscriminatorCapacity(Trick):
    """Rebuild D with the same structure and every width multiplied by `factor`.

    Goodfellow (2016), "NIPS 2016 Tutorial: GANs", sec. 4: D is usually deeper and sometimes
    has more filters per layer than G. Default 2x (half or quarter D: factor 0.5, 0.25).
    Runs before every other rewrite of D, which then apply to the wider net.
    """

    name = "discriminator_capacity"
    family = "architecture"
    citation = "Goodfellow 2016, NIPS 2016 Tutorial: Generative Adversarial Networks, sec. 4"
    Params = CapacityParams
    order = 10
    capturable = True

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        factor = self.params.factor
        if isinstance(discriminator, DCGANDiscriminator):
            channels, size = ctx.data_shape[0], ctx.data_shape[1]
            width = scaled(discriminator.from_image.out_channels, factor)
            wider: nn.Module = DCGANDiscriminator(channels, size, width)
        elif isinstance(discriminator, MLPDiscriminator):
            hidden = scaled(discriminator.fc0.out_features, factor)
            layers = sum(isinstance(m, nn.Linear) for m in discriminator) - 1
            wider = MLPDiscriminator(ctx.data_shape[0], hidden, layers)
        elif isinstance(discriminator, ResNetDiscriminator):
            channels, size = ctx.data_shape[0], ctx.data_shape[1]
            width = scaled(discriminator.block0.shortcut[1].out_channels, factor)
            wider = ResNetDiscriminator(channels, size, width)
            resnet_init(wider)
            return wider
        else:
            raise ConfigError(
                f"trick '{self.name}' rebuilds the DCGAN, ResNet or MLP discriminator, but got a "
                f"{type(discriminator).__name__} (another trick replaced D first)"
            )
        dcgan_init(wider)
        return wider
