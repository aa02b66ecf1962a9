"""Noise inside G: dropout kept on at sampling time, or Gaussian noise after every layer."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from torch import nn

from bench.models.layers import AlwaysOnDropout, GaussianNoise
from bench.models.surgery import insert_after, require_sequential
from bench.tricks.registry import TrainContext, Trick, TrickParams, register


class NoiseInG(Trick):
    """Shared by the tricks that put a noise layer after every hidden activation of G.

    Not registered itself. The layers are named `*_{suffix}` after each `*_act`.
    """

    family = "architecture"
    capturable = True
    suffix: ClassVar[str]

    def noise_layer(self) -> nn.Module:
        raise NotImplementedError

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        net = require_sequential(generator, self.name)
        for name in [n for n in net._modules if n.endswith("_act")]:
            insert_after(
                net, name, f"{name.removesuffix('_act')}_{self.suffix}", self.noise_layer()
            )
        return net


class DropoutParams(TrickParams):
    p: float = Field(0.5, gt=0.0, lt=1.0, description="probability of zeroing a unit")


@register
class GeneratorDropout(NoiseInG):
    """Dropout after every hidden layer of G, active in training AND at sampling time.

    Isola et al. (2017), pix2pix, sec. 3.1: noise "only in the form of dropout, applied on
    several layers of our generator at both training and test time"; 50% as there.
    ganhacks (Chintala et al. 2016), tip 17.
    """

    name = "generator_dropout"
    citation = "Isola et al. 2017 (pix2pix), sec. 3.1; ganhacks tip 17"
    Params = DropoutParams
    suffix = "dropout"

    def noise_layer(self) -> nn.Module:
        return AlwaysOnDropout(self.params.p)


class LayerNoiseParams(TrickParams):
    sigma: float = Field(0.1, gt=0.0, le=2.0, description="std of the noise added per layer")


@register
class GeneratorLayerNoise(NoiseInG):
    """Add N(0, sigma^2) after every hidden layer of G while training (none at sampling).

    ganhacks (Chintala et al. 2016), tip 13: "adding gaussian noise to every layer of
    generator (Zhao et al., EBGAN)". Neither source fixes sigma; 0.1 is a small default.
    """

    name = "generator_layer_noise"
    citation = "ganhacks (Chintala et al. 2016), tip 13; Zhao et al. 2017 (EBGAN)"
    Params = LayerNoiseParams
    suffix = "noise"

    def noise_layer(self) -> nn.Module:
        return GaussianNoise(self.params.sigma)
