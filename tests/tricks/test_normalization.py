"""Norm kinds in G and D normalise what they claim; batchnorm_everywhere adds the two norms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models

NORMS = (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)


def nets(shape: tuple[int, ...] = (1, 16, 16)) -> tuple[nn.Module, nn.Module]:
    return build_models(ModelConfig(latent_dim=16, g_width=8, d_width=8), shape)


def norm_outputs(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    outputs: list[torch.Tensor] = []
    for layer in net.modules():
        if isinstance(layer, NORMS):
            layer.register_forward_hook(lambda _, __, out: outputs.append(out.detach()))
    net(x)
    return outputs


@pytest.mark.parametrize("trick", ["generator_norm", "discriminator_norm"])
@pytest.mark.parametrize(
    ("kind", "dims"), [("instance", (2, 3)), ("layer", (1, 2, 3))], ids=["instance", "layer"]
)
def test_norm_kind_standardises_each_sample(make_trick, ctx, trick, kind, dims) -> None:
    ctx.data_shape = (1, 16, 16)
    generator, discriminator = nets()
    applied = make_trick(trick, kind=kind)
    generator = applied.build_generator(generator, ctx)
    discriminator = applied.build_discriminator(discriminator, ctx)
    # inputs x100 so that features dwarf the norms' eps (convs and (Leaky)ReLU scale along)
    net, x = (
        (generator, 100 * torch.randn(6, 16))
        if trick == "generator_norm"
        else (discriminator, 100 * torch.randn(6, 1, 16, 16))
    )
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    outputs = norm_outputs(net, x)
    assert outputs
    for out in outputs:  # affine scale 1, shift 0 at init: the output is the normalised input
        torch.testing.assert_close(
            out.mean(dims), torch.zeros_like(out.mean(dims)), atol=1e-4, rtol=0
        )
        var = out.var(dims, unbiased=False)
        torch.testing.assert_close(var, torch.ones_like(var), atol=1e-2, rtol=0)


def test_norm_kind_none_removes_every_norm(make_trick, ctx) -> None:
    generator, discriminator = nets()
    generator = make_trick("generator_norm", kind="none").build_generator(generator, ctx)
    ctx.data_shape = (1, 16, 16)
    discriminator = make_trick("discriminator_norm", kind="none").build_discriminator(
        discriminator, ctx
    )
    for net in (generator, discriminator):
        assert not any(isinstance(m, NORMS) for m in net.modules())


def test_batchnorm_everywhere_normalises_g_output_and_d_input(make_trick, ctx) -> None:
    ctx.data_shape = (3, 16, 16)
    generator, discriminator = nets((3, 16, 16))
    trick = make_trick("batchnorm_everywhere")
    generator = trick.build_generator(generator, ctx)
    discriminator = trick.build_discriminator(discriminator, ctx)
    names = list(generator._modules)
    assert names[-3:] == ["to_image", "to_image_norm", "output"]
    assert list(discriminator._modules)[:3] == ["from_image", "from_image_norm", "from_image_act"]
    seen: dict[str, torch.Tensor] = {}
    generator.output.register_forward_hook(lambda _, args, __: seen.update(g=args[0]))
    discriminator.from_image_act.register_forward_hook(lambda _, args, __: seen.update(d=args[0]))
    discriminator(generator(torch.randn(32, 16)))
    for key, norm in (("g", generator.to_image_norm), ("d", discriminator.from_image_norm)):
        pre = (seen[key] - norm.bias.view(1, -1, 1, 1)) / norm.weight.view(1, -1, 1, 1)
        channels = norm.num_features
        assert channels == {"g": 3, "d": 8}[key]
        torch.testing.assert_close(pre.mean((0, 2, 3)), torch.zeros(channels), atol=1e-4, rtol=0)
        var = pre.var((0, 2, 3), unbiased=False)
        torch.testing.assert_close(var, torch.ones(channels), atol=2e-2, rtol=0)
