"""Minibatch features in D: let D compare each example with the rest of its minibatch."""

from __future__ import annotations

import math

from pydantic import Field
from torch import nn

from bench.errors import ConfigError
from bench.models.layers import MinibatchDiscrimination, MinibatchStddev
from bench.models.surgery import (
    fresh,
    insert_before,
    layer_shapes,
    replace_layer,
    require_sequential,
)
from bench.tricks.registry import TrainContext, Trick, TrickParams, register


def widened(layer: nn.Module, extra: int) -> nn.Module:
    """A fresh copy of D's last layer that takes `extra` more input channels or features."""
    if isinstance(layer, nn.Conv2d):
        return nn.Conv2d(
            layer.in_channels + extra,
            layer.out_channels,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            bias=layer.bias is not None,
        )
    if isinstance(layer, nn.Linear):
        return nn.Linear(layer.in_features + extra, layer.out_features, bias=layer.bias is not None)
    raise ConfigError(
        "minibatch layers widen D's last layer, which must be a Conv2d or Linear; "
        f"got {type(layer).__name__}"
    )


def insert_before_logit(
    discriminator: nn.Module, trick: str, layer: nn.Module, extra: int
) -> nn.Module:
    """Insert `layer` (which appends `extra` features) before D's last layer, widening that."""
    net = require_sequential(discriminator, trick)
    last = list(net._modules)[-1]
    insert_before(net, last, trick, layer)
    replace_layer(net, last, fresh(widened(net._modules[last], extra)))
    return net


class MinibatchDiscriminationParams(TrickParams):
    kernels: int = Field(100, ge=1, le=1024, description="B: closeness features appended")
    kernel_dim: int = Field(5, ge=1, le=256, description="C: dimension of each kernel's space")


@register
class MinibatchDiscriminationTrick(Trick):
    """Append to D's last features each example's closeness to the others in its minibatch.

    Salimans et al. (2016), "Improved Techniques for Training GANs", sec. 3.2: D can then
    see a collapsed batch of fakes. B = 100 kernels of dimension C = 5, as in the authors'
    code (openai/improved-gan). D sees all-real and all-fake batches separately.
    """

    name = "minibatch_discrimination"
    family = "improved_techniques"
    citation = "Salimans et al. 2016, Improved Techniques for Training GANs, sec. 3.2"
    Params = MinibatchDiscriminationParams
    order = 15
    capturable = True

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        net = require_sequential(discriminator, self.name)
        features = math.prod(layer_shapes(net, ctx.data_shape)[list(net._modules)[-1]].input[1:])
        p = self.params
        layer = MinibatchDiscrimination(features, p.kernels, p.kernel_dim)
        return insert_before_logit(net, self.name, layer, p.kernels)


@register
class MinibatchStddevTrick(Trick):
    """Append to D's last features one constant map: the minibatch's mean feature std.

    Karras et al. (2018), "Progressive Growing of GANs", sec. 3: a parameter-free summary of
    the batch's variation, so D can penalise fakes less varied than real data. One group (the
    whole minibatch), as in the paper.
    """

    name = "minibatch_stddev"
    family = "improved_techniques"
    citation = "Karras et al. 2018, Progressive Growing of GANs, sec. 3"
    order = 15
    capturable = True

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        return insert_before_logit(discriminator, self.name, MinibatchStddev(), 1)
