"""`tiny_mlp`: a two-layer fully connected G and D for small images.

Its own setting, the LeakyReLU slope, comes from the suite: `[base.model] params = {slope =
0.1}`, validated by `TinyParams` (an unknown key or a slope outside [0, 1) is refused before
anything runs) and recorded, defaults filled in, in every job's config and id.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from bench.extend import ModelConfig, register_model


class TinyParams(BaseModel):
    """`model.params` of `tiny_mlp`."""

    model_config = ConfigDict(extra="forbid")
    slope: float = Field(0.2, ge=0.0, lt=1.0, description="LeakyReLU negative slope")


class TinyGenerator(nn.Sequential):
    """z -> hidden -> image, tanh output (inputs are scaled to [-1, 1])."""

    def __init__(self, latent_dim: int, hidden: int, shape: tuple[int, ...], slope: float) -> None:
        super().__init__(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(slope),
            nn.Linear(hidden, math.prod(shape)),
            nn.Tanh(),
            nn.Unflatten(1, shape),
        )


class TinyDiscriminator(nn.Sequential):
    """image -> hidden -> one logit per image."""

    def __init__(self, hidden: int, shape: tuple[int, ...], slope: float) -> None:
        super().__init__(
            nn.Flatten(),
            nn.Linear(math.prod(shape), hidden),
            nn.LeakyReLU(slope),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).flatten()


@register_model(
    "tiny_mlp",
    data="images",
    image_sizes=(8, 16, 32),
    channels=(1, 3),
    surgery={"spectral_norm", "weight_init"},
    params=TinyParams,
)
def build(
    cfg: ModelConfig, data_shape: tuple[int, ...], num_classes: int | None
) -> tuple[nn.Module, nn.Module]:
    """G and D with `model.g_width` / `model.d_width` hidden units."""
    slope = TinyParams(**cfg.params).slope
    return (
        TinyGenerator(cfg.latent_dim, cfg.g_width, data_shape, slope),
        TinyDiscriminator(cfg.d_width, data_shape, slope),
    )
