"""Activation swaps: LeakyReLU in G, ReLU in D, in every hidden layer and nowhere else."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_leaky_relu_generator_passes_negative_preactivations(make_trick, ctx, arch) -> None:
    shape = (1, 16, 16) if arch == "dcgan" else (2,)
    generator, _ = build_models(ModelConfig(arch=arch, latent_dim=16, g_width=8), shape)
    hidden = sum(isinstance(m, nn.ReLU) for m in generator.modules())
    generator = make_trick("leaky_relu_generator", negative_slope=0.1).build_generator(
        generator, ctx
    )
    leaky = [m for m in generator.modules() if isinstance(m, nn.LeakyReLU)]
    assert not any(isinstance(m, nn.ReLU) for m in generator.modules())
    assert len(leaky) == hidden and all(m.negative_slope == 0.1 for m in leaky)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    leaky[0].register_forward_hook(lambda _, args, out: seen.append((args[0], out)))
    generator(torch.randn(8, 16))
    pre, post = seen[0]
    negative = pre < 0
    assert negative.any()  # ReLU would output 0 there; LeakyReLU 0.1 x its input
    torch.testing.assert_close(post[negative], 0.1 * pre[negative])


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_relu_discriminator_replaces_every_leaky_relu(make_trick, ctx, arch) -> None:
    shape = (1, 16, 16) if arch == "dcgan" else (2,)
    _, discriminator = build_models(ModelConfig(arch=arch, d_width=8), shape)
    hidden = sum(isinstance(m, nn.LeakyReLU) for m in discriminator.modules())
    discriminator = make_trick("relu_discriminator").build_discriminator(discriminator, ctx)
    assert not any(isinstance(m, nn.LeakyReLU) for m in discriminator.modules())
    assert sum(isinstance(m, nn.ReLU) for m in discriminator.modules()) == hidden > 0
