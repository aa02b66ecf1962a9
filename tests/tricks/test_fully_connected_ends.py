"""Fully connected ends: G starts and D ends with a hidden fully connected layer."""

from __future__ import annotations

import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models


def test_fully_connected_hidden_layers_at_g_input_and_d_output(make_trick, ctx) -> None:
    ctx.data_shape = (3, 16, 16)
    generator, discriminator = build_models(
        ModelConfig(latent_dim=16, g_width=8, d_width=8), ctx.data_shape
    )
    trick = make_trick("fully_connected_ends", hidden=32)
    generator = trick.build_generator(generator, ctx)
    discriminator = trick.build_discriminator(discriminator, ctx)

    g_linear = [m for m in generator.project.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in g_linear] == [(16, 32), (32, 16 * 4 * 4)]
    d_linear = [m for m in discriminator.to_logit.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in d_linear] == [(16 * 4 * 4, 32), (32, 1)]
    # the rest of the nets is unchanged and still convolutional
    assert isinstance(generator.up0, nn.ConvTranspose2d)
    assert isinstance(discriminator.down0, nn.Conv2d)
    assert generator(torch.randn(5, 16)).shape == (5, 3, 16, 16)
    assert discriminator(torch.randn(5, 3, 16, 16)).shape == (5,)


def test_each_end_can_stay_convolutional(make_trick, ctx) -> None:
    generator, discriminator = build_models(ModelConfig(latent_dim=16), ctx.data_shape)
    trick = make_trick("fully_connected_ends", generator=False)
    assert isinstance(trick.build_generator(generator, ctx).project, nn.ConvTranspose2d)
    assert not isinstance(trick.build_discriminator(discriminator, ctx).to_logit, nn.Conv2d)
