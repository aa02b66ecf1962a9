"""Fully connected hidden layers at G's input and D's output, instead of all-convolutional."""

from __future__ import annotations

import math

from pydantic import Field, model_validator
from torch import nn

from bench.models.surgery import (
    fresh,
    layer_shapes,
    replace_layer,
    require_layer,
    require_sequential,
)
from bench.tricks.registry import TrainContext, Trick, TrickParams, register


class FullyConnectedParams(TrickParams):
    hidden: int = Field(1024, ge=8, le=8192, description="units of the fully connected layer")
    generator: bool = Field(True, description="z -> FC -> FC -> reshape as G's first layer")
    discriminator: bool = Field(True, description="flatten -> FC -> FC -> logit as D's last")

    @model_validator(mode="after")
    def _some_net(self) -> FullyConnectedParams:
        if not (self.generator or self.discriminator):
            raise ValueError("set generator or discriminator (or both) to true")
        return self


def fully_connected(
    in_shape: tuple[int, ...], hidden: int, out_shape: tuple[int, ...], activation: nn.Module
) -> nn.Sequential:
    """flatten -> Linear(in, hidden) -> activation -> Linear(hidden, out) -> reshape."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(in_shape), hidden),
        activation,
        nn.Linear(hidden, math.prod(out_shape)),
        nn.Unflatten(1, out_shape),
    )


@register
class FullyConnectedEnds(Trick):
    """Put a fully connected hidden layer at G's input and before D's logit.

    Radford et al. (2016), DCGAN, sec. 3, removed fully connected hidden layers ("all
    convolutional"); this brings them back, as in InfoGAN's MNIST nets (Chen et al. 2016,
    appendix C.1: FC 1024 in G and D, the default width here).
    """

    name = "fully_connected_ends"
    family = "architecture"
    citation = "Radford et al. 2016, DCGAN, sec. 3; Chen et al. 2016 (InfoGAN), appendix C.1"
    Params = FullyConnectedParams
    needs = frozenset({"images"})
    order = 20
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        if self.params.generator:
            self._rewrite(generator, "project", (ctx.latent_dim,), nn.ReLU())
        return generator

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        if self.params.discriminator:
            self._rewrite(discriminator, "to_logit", ctx.data_shape, nn.LeakyReLU(0.2))
        return discriminator

    def _rewrite(
        self, net: nn.Module, name: str, sample_shape: tuple[int, ...], activation: nn.Module
    ) -> None:
        net = require_sequential(net, self.name)
        require_layer(net, name, self.name)
        shape = layer_shapes(net, sample_shape)[name]
        layers = fully_connected(
            tuple(shape.input[1:]), self.params.hidden, tuple(shape.output[1:]), activation
        )
        replace_layer(net, name, fresh(layers))
