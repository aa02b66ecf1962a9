"""The DCGAN and MLP builders follow Radford et al. (2016) and map the right shapes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.errors import ConfigError
from bench.models import build_models


@pytest.mark.parametrize("size", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size: int, channels: int) -> None:
    generator, discriminator = build_models(ModelConfig(latent_dim=16, g_width=8, d_width=8),
                                            (channels, size, size))  # fmt: skip
    images = generator(torch.randn(4, 16))
    assert images.shape == (4, channels, size, size)
    assert images.abs().max() <= 1  # tanh output
    assert discriminator(images).shape == (4,)


def test_dcgan_rules_no_bn_at_g_output_or_d_input_and_the_activations() -> None:
    generator, discriminator = build_models(ModelConfig(), (1, 32, 32))
    g_layers, d_layers = list(generator.children()), list(discriminator.children())
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    assert d_layers[1].negative_slope == 0.2
    assert any(isinstance(m, nn.ReLU) for m in generator.modules())
    assert not any(isinstance(m, nn.MaxPool2d | nn.AvgPool2d) for m in discriminator.modules())


def test_weights_are_initialised_from_normal_0_002() -> None:
    generator, _ = build_models(ModelConfig(g_width=64), (3, 64, 64))
    weights = torch.cat([m.weight.flatten() for m in generator.modules()
                         if isinstance(m, nn.ConvTranspose2d)])  # fmt: skip
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)


def test_unsupported_sizes_and_mismatched_architectures_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"data\.image_size"):
        build_models(ModelConfig(), (1, 28, 28))
    with pytest.raises(ConfigError, match=r"model\.arch = 'mlp'"):
        build_models(ModelConfig(), (2,))


def test_mlp_maps_latents_to_points() -> None:
    generator, discriminator = build_models(ModelConfig(arch="mlp", latent_dim=4), (2,))
    points = generator(torch.randn(7, 4))
    assert points.shape == (7, 2) and discriminator(points).shape == (7,)
