"""Minibatch layers in D: the stddev channel is the batch std; closeness sees collapsed batches."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models
from bench.models.layers import MinibatchDiscrimination, MinibatchStddev


def discriminator(arch: str = "dcgan") -> tuple[nn.Module, tuple[int, ...]]:
    shape = (1, 16, 16) if arch == "dcgan" else (2,)
    _, net = build_models(ModelConfig(arch=arch, d_width=8, mlp_hidden=32), shape)
    return net, shape


def capture(layer: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    layer.register_forward_hook(lambda _, args, out: seen.append((args[0], out)))
    return seen


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_minibatch_stddev_appends_the_batch_std(make_trick, ctx, arch) -> None:
    net, ctx.data_shape = discriminator(arch)
    net = make_trick("minibatch_stddev").build_discriminator(net, ctx)
    names = list(net._modules)
    assert names[-2] == "minibatch_stddev" and isinstance(net.minibatch_stddev, MinibatchStddev)
    seen = capture(net.minibatch_stddev)
    assert net(torch.randn(16, *ctx.data_shape)).shape == (16,)
    features, out = seen[0]
    assert out.shape[1] == features.shape[1] + 1
    torch.testing.assert_close(out[:, :-1], features)
    expected = torch.sqrt(features.var(dim=0, unbiased=False) + 1e-8).mean()  # ProGAN's eps
    torch.testing.assert_close(out[:, -1], torch.full_like(out[:, -1], expected.item()))


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_minibatch_discrimination_scores_closeness_to_the_batch(make_trick, ctx, arch) -> None:
    net, ctx.data_shape = discriminator(arch)
    net = make_trick("minibatch_discrimination", kernels=10, kernel_dim=3).build_discriminator(
        net, ctx
    )
    layer = net.minibatch_discrimination
    assert isinstance(layer, MinibatchDiscrimination)
    seen = capture(layer)
    collapsed = torch.randn(1, *ctx.data_shape).expand(8, *ctx.data_shape)
    diverse = torch.randn(8, *ctx.data_shape)
    assert net(collapsed).shape == net(diverse).shape == (8,)
    (collapsed_in, collapsed_out), (diverse_in, diverse_out) = seen
    assert collapsed_out.shape[1] == collapsed_in.shape[1] + 10
    closeness = collapsed_out[:, -10:]
    # identical examples: every one of the 7 others is at distance 0, exp(0) = 1 each
    torch.testing.assert_close(closeness, torch.full_like(closeness, 7.0))
    # distinct examples: o(x_i)_b = sum over j != i of exp(-||M_i,b - M_j,b||_1), M = f(x) T
    m = (diverse_in.flatten(1) @ layer.T).view(8, 10, 3)
    expected = torch.stack(
        [sum(torch.exp(-(m[i] - m[j]).abs().sum(-1)) for j in range(8) if j != i) for i in range(8)]
    )
    torch.testing.assert_close(diverse_out[:, -10:].reshape(8, 10, -1)[..., 0], expected)
