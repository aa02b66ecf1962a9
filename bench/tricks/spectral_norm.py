"""Spectral normalization: divide each weight by its largest singular value."""

from __future__ import annotations

from pydantic import Field, model_validator
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from bench.tricks.registry import TrainContext, Trick, TrickParams, register

WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


class SpectralNormParams(TrickParams):
    discriminator: bool = Field(True, description="normalise D's weights (Miyato et al.)")
    generator: bool = Field(False, description="normalise G's weights too (SAGAN)")
    power_iterations: int = Field(
        1, ge=1, le=10, description="power-method steps per forward pass in training"
    )

    @model_validator(mode="after")
    def _some_net(self) -> SpectralNormParams:
        if not (self.discriminator or self.generator):
            raise ValueError("set discriminator or generator (or both) to true")
        return self


def apply_spectral_norm(net: nn.Module, power_iterations: int) -> nn.Module:
    """Reparametrise every conv/linear weight of `net` as W / sigma(W), sigma by power method."""
    for layer in list(net.modules()):
        if isinstance(layer, WEIGHTED) and not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer, n_power_iterations=power_iterations)
    return net


@register
class SpectralNorm(Trick):
    """Spectrally normalise every conv and linear weight of D (and, optionally, of G).

    Miyato et al. (2018), "Spectral Normalization for GANs": one power iteration per step
    (their default). Zhang et al. (2019), SAGAN, sec. 4.1, apply it to G as well. Applied after
    every other rewrite of the nets, so layers that other tricks add are normalised too.
    """

    name = "spectral_norm"
    family = "normalization"
    citation = "Miyato et al. 2018, Spectral Normalization for GANs; Zhang et al. 2019 (SAGAN, G)"
    Params = SpectralNormParams
    order = 90
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        if self.params.generator:
            return apply_spectral_norm(generator, self.params.power_iterations)
        return generator

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        if self.params.discriminator:
            return apply_spectral_norm(discriminator, self.params.power_iterations)
        return discriminator
