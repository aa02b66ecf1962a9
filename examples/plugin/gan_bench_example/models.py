"""`tiny_mlp`: a two-layer fully connected G and D for small images."""

from __future__ import annotations

import math

from torch import Tensor, nn

from bench.extend import ModelConfig, register_model


class TinyGenerator(nn.Sequential):
    """z -> hidden -> image, tanh output (inputs are scaled to [-1, 1])."""

    def __init__(self, latent_dim: int, hidden: int, shape: tuple[int, ...]) -> None:
        super().__init__(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, math.prod(shape)),
            nn.Tanh(),
            nn.Unflatten(1, shape),
        )


class TinyDiscriminator(nn.Sequential):
    """image -> hidden -> one logit per image."""

    def __init__(self, hidden: int, shape: tuple[int, ...]) -> None:
        super().__init__(
            nn.Flatten(),
            nn.Linear(math.prod(shape), hidden),
            nn.LeakyReLU(0.2),
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
)
def build(
    cfg: ModelConfig, data_shape: tuple[int, ...], num_classes: int | None
) -> tuple[nn.Module, nn.Module]:
    """G and D with `model.g_width` / `model.d_width` hidden units."""
    return (
        TinyGenerator(cfg.latent_dim, cfg.g_width, data_shape),
        TinyDiscriminator(cfg.d_width, data_shape),
    )
