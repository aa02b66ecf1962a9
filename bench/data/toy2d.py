"""`ring8` and `grid25`: the 2-D Gaussian mixtures used to measure mode collapse.

ring8: 8 Gaussians on a circle of radius 2, std 0.02 (Metz et al., "Unrolled Generative
Adversarial Networks", ICLR 2017; Srivastava et al., "VEEGAN", NeurIPS 2017).
grid25: 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (VEEGAN; Lin et al., "PacGAN", NeurIPS 2018).
Every mode is equally likely; points are drawn from fixed seeds so the data never changes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bench.config import DataConfig
from bench.data.base import Dataset, fingerprint, register

TRAIN_SEED, TEST_SEED = 0, 1


def ring_modes(count: int = 8, radius: float = 2.0) -> Tensor:
    """`count` centres evenly spaced on a circle, the first at angle 0."""
    angles = torch.arange(count, dtype=torch.float64) * (2 * math.pi / count)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).to(torch.float32)


def grid_modes(side: int = 5, spacing: float = 2.0) -> Tensor:
    """`side` x `side` centres on a square grid centred on the origin."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


def sample_mixture(modes: Tensor, std: float, count: int, seed: int) -> Tensor:
    """`count` points from the equal-weight mixture of isotropic Gaussians at `modes`."""
    generator = torch.Generator().manual_seed(seed)
    component = torch.randint(len(modes), (count,), generator=generator)
    noise = torch.randn(count, 2, generator=generator)
    return modes[component] + std * noise


def mixture_dataset(name: str, modes: Tensor, std: float, count: int) -> Dataset:
    train = sample_mixture(modes, std, count, TRAIN_SEED)
    test = sample_mixture(modes, std, count, TEST_SEED)
    recipe = {"name": name, "samples": count, "std": std, "seeds": [TRAIN_SEED, TEST_SEED]}
    return Dataset(
        name=name,
        kind="toy2d",
        train=train,
        test=test,
        train_labels=None,
        test_labels=None,
        num_classes=None,
        version=fingerprint(recipe, modes, train, test),
        modes=modes,
        mode_std=std,
    )


@register("ring8", kind="toy2d", capabilities={"toy2d"})
def ring8(cfg: DataConfig) -> Dataset:
    return mixture_dataset("ring8", ring_modes(), 0.02, cfg.toy_samples)


@register("grid25", kind="toy2d", capabilities={"toy2d"})
def grid25(cfg: DataConfig) -> Dataset:
    return mixture_dataset("grid25", grid_modes(), 0.05, cfg.toy_samples)
