"""Noise inside G: dropout kept on at sampling time, or Gaussian noise after every layer."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field
from torch import nn

from bench.models.layers import AlwaysOnDropout, GaussianNoise
from bench.models.surgery import insert_after, require_sequential
from bench.tricks.registry import TrainContext, Trick, TrickParams, register


def after_each_activation(net: nn.Module, suffix: str, make: Callable[[], nn.Module]) -> None:
    """Insert `make()` after every hidden activation (`*_act`) of G, named `*_{suffix}`."""
    for name in [n for n in net._modules if n.endswith("_act")]:
        insert_after(net, name, f"{name.removesuffix('_act')}_{suffix}", make())


class DropoutParams(TrickParams):
    p: float = Field(0.5, gt=0.0, lt=1.0, description="probability of zeroing a unit")


@register
class GeneratorDropout(Trick):
    """Dropout after every hidden layer of G, active in training AND at sampling time.

    Isola et al. (2017), pix2pix, sec. 3.1: noise "only in the form of dropout, applied on
    several layers of our generator at both training and test time"; 50% as there.
    ganhacks (Chintala et al. 2016), tip 17.
    """

    name = "generator_dropout"
    family = "architecture"
    citation = "Isola et al. 2017 (pix2pix), sec. 3.1; ganhacks tip 17"
    Params = DropoutParams
    order = 50
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        net = require_sequential(generator, self.name)
        after_each_activation(net, "dropout", lambda: AlwaysOnDropout(self.params.p))
        return net


class LayerNoiseParams(TrickParams):
    sigma: float = Field(0.1, gt=0.0, le=2.0, description="std of the noise added per layer")


@register
class GeneratorLayerNoise(Trick):
    """Add N(0, sigma^2) after every hidden layer of G while training (none at sampling).

    ganhacks (Chintala et al. 2016), tip 13: "adding gaussian noise to every layer of
    generator (Zhao et al., EBGAN)". Neither source fixes sigma; 0.1 is a small default.
    """

    name = "generator_layer_noise"
    family = "architecture"
    citation = "ganhacks (Chintala et al. 2016), tip 13; Zhao et al. 2017 (EBGAN)"
    Params = LayerNoiseParams
    order = 50
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        net = require_sequential(generator, self.name)
        after_each_activation(net, "noise", lambda: GaussianNoise(self.params.sigma))
        return net
