"""MLP generator and discriminator for 2-D toy mixtures (ring of 8, grid of 25).

The setup of Metz et al. (2017), "Unrolled GANs", and Srivastava et al. (2017), "VEEGAN":
a few fully connected ReLU layers in G, LeakyReLU in D, a linear output.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable

from torch import Tensor, nn


def _mlp(sizes: list[int], activation: Callable[[], nn.Module], out_dim: int) -> OrderedDict:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers[f"fc{i}"] = nn.Linear(fan_in, fan_out)
        layers[f"fc{i}_act"] = activation()
    layers["out"] = nn.Linear(sizes[-1], out_dim)
    return layers


class MLPGenerator(nn.Sequential):
    """z [N, latent_dim] -> point [N, dim]."""

    def __init__(self, latent_dim: int, dim: int, hidden: int, layers: int) -> None:
        super().__init__(_mlp([latent_dim] + [hidden] * layers, nn.ReLU, dim))
        self.latent_dim = latent_dim


class MLPDiscriminator(nn.Sequential):
    """point [N, dim] -> one logit per point [N]."""

    def __init__(self, dim: int, hidden: int, layers: int) -> None:
        super().__init__(_mlp([dim] + [hidden] * layers, lambda: nn.LeakyReLU(0.2), 1))

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).flatten()
