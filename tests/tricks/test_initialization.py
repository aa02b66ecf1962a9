"""Weight init: truncated normal stays within 2 std; `default` is PyTorch's own init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models

WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
TRUNCATED_STD = 0.8796  # std of N(0, 1) truncated to [-2, 2]


@pytest.fixture
def nets() -> tuple[nn.Module, nn.Module]:
    return build_models(ModelConfig(latent_dim=16, g_width=16, d_width=16), (1, 32, 32))


def test_truncated_normal_has_no_weight_beyond_two_std(make_trick, ctx, nets) -> None:
    baseline = torch.cat(
        [m.weight.flatten() for n in nets for m in n.modules() if isinstance(m, WEIGHTED)]
    )
    assert baseline.abs().max() > 0.04  # N(0, 0.02) has tails beyond 2 std
    trick = make_trick("weight_init", kind="truncated_normal", std=0.02)
    generator, discriminator = (
        trick.build_generator(nets[0], ctx),
        trick.build_discriminator(nets[1], ctx),
    )
    weights = torch.cat(
        [
            m.weight.flatten()
            for n in (generator, discriminator)
            for m in n.modules()
            if isinstance(m, WEIGHTED)
        ]
    )
    assert weights.abs().max() <= 0.04
    assert weights.std().item() == pytest.approx(0.02 * TRUNCATED_STD, rel=0.02)


def test_default_is_pytorchs_kaiming_uniform(make_trick, ctx, nets) -> None:
    trick = make_trick("weight_init", kind="default")
    generator, discriminator = (
        trick.build_generator(nets[0], ctx),
        trick.build_discriminator(nets[1], ctx),
    )
    for layer in (*generator.modules(), *discriminator.modules()):
        if isinstance(layer, WEIGHTED):
            fan_in = nn.init._calculate_fan_in_and_fan_out(layer.weight)[0]
            bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), ..)
            assert layer.weight.abs().max() <= bound
            assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.15)
        elif isinstance(layer, nn.BatchNorm2d):
            assert torch.all(layer.weight == 1) and torch.all(layer.bias == 0)
