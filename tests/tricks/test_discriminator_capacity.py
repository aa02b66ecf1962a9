"""D capacity: every width of D times the factor, so its parameter count grows as predicted."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def dcgan_d_parameters(channels: int, width: int, n_down: int) -> int:
    """Conv weights (4x4, no bias) plus batch-norm scale and shift, layer by layer."""
    widths = [width * 2**i for i in range(n_down)]
    convs = channels * widths[0] + sum(a * b for a, b in itertools.pairwise(widths)) + widths[-1]
    return 16 * convs + 2 * sum(widths[1:])


@pytest.mark.parametrize("factor", [0.5, 2.0, 3.0])
def test_dcgan_discriminator_widths_scale(make_trick, ctx, factor) -> None:
    ctx.data_shape = (3, 32, 32)
    generator, discriminator = build_models(ModelConfig(g_width=8, d_width=8), ctx.data_shape)
    assert parameter_count(discriminator) == dcgan_d_parameters(3, 8, 3)
    trick = make_trick("discriminator_capacity", factor=factor)
    wider = trick.build_discriminator(discriminator, ctx)
    assert parameter_count(wider) == dcgan_d_parameters(3, round(8 * factor), 3)
    assert wider.from_image.out_channels == round(8 * factor)
    assert trick.build_generator(generator, ctx) is generator
    assert wider(torch.randn(4, 3, 32, 32)).shape == (4,)


def test_mlp_discriminator_hidden_units_scale(make_trick, ctx) -> None:
    ctx.data_shape = (2,)
    _, discriminator = build_models(ModelConfig(arch="mlp", mlp_hidden=32, mlp_layers=3), (2,))
    wider = make_trick("discriminator_capacity", factor=2.0).build_discriminator(discriminator, ctx)
    hidden = [m.out_features for m in wider.modules() if isinstance(m, nn.Linear)]
    assert hidden == [64, 64, 64, 1]
