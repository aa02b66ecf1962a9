"""Up/downsampling rewrites: what G and D resample with, and the checkerboard of 3x3 kernels."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models


def nets(channels: int = 3, size: int = 32) -> tuple[nn.Module, nn.Module]:
    return build_models(ModelConfig(latent_dim=16, g_width=8, d_width=8), (channels, size, size))


@pytest.mark.parametrize(
    ("kind", "layer"), [("pixel_shuffle", nn.PixelShuffle), ("nearest", nn.Upsample)]
)
def test_generator_upsampling_has_no_transposed_conv(make_trick, ctx, kind, layer) -> None:
    generator, _ = nets()
    generator = make_trick("generator_upsampling", kind=kind).build_generator(generator, ctx)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in generator.modules())
    assert sum(isinstance(m, layer) for m in generator.modules()) == 3  # 4 -> 8 -> 16 -> 32
    assert generator(torch.randn(5, 16)).shape == (5, 3, 32, 32)


@pytest.mark.parametrize(("kind", "pool"), [("avg_pool", nn.AvgPool2d), ("max_pool", nn.MaxPool2d)])
def test_discriminator_downsampling_pools_instead_of_striding(make_trick, ctx, kind, pool) -> None:
    ctx.data_shape = (3, 32, 32)
    _, discriminator = nets()
    discriminator = make_trick("discriminator_downsampling", kind=kind).build_discriminator(
        discriminator, ctx
    )
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.stride == (1, 1) for m in convs)
    assert sum(isinstance(m, pool) for m in discriminator.modules()) == 3  # 32 -> 16 -> 8 -> 4
    assert discriminator(torch.randn(5, 3, 32, 32)).shape == (5,)


def overlap_counts(layer: nn.ConvTranspose2d) -> torch.Tensor:
    """How many kernel taps reach each output pixel: all-ones weights on an all-ones input."""
    probe = nn.ConvTranspose2d(
        1, 1, layer.kernel_size, layer.stride, layer.padding, layer.output_padding, bias=False
    )
    nn.init.ones_(probe.weight)
    with torch.no_grad():
        return probe(torch.ones(1, 1, 8, 8))[0, 0, 2:-2, 2:-2]  # interior, away from borders


@pytest.mark.parametrize(("size", "distinct"), [(3, 3), (4, 1), (5, 3)])
def test_kernel_not_divisible_by_stride_overlaps_unevenly(make_trick, ctx, size, distinct) -> None:
    generator, _ = nets(channels=1, size=16)
    generator = make_trick("generator_kernel_size", size=size).build_generator(generator, ctx)
    for name in ("up0", "to_image"):
        layer = generator._modules[name]
        assert layer.kernel_size == (size, size) and layer.stride == (2, 2)
        # 3x3 or 5x5 over stride 2: 1, 2 or 4 taps per pixel in a checkerboard; 4x4: 4 everywhere
        assert overlap_counts(layer).unique().numel() == distinct
    assert generator(torch.randn(5, 16)).shape == (5, 1, 16, 16)
