"""Noise in G: dropout stays on at sampling time; Gaussian layer noise only while training."""

from __future__ import annotations

import pytest
import torch

from bench.config import ModelConfig
from bench.models import build_models
from bench.models.layers import AlwaysOnDropout, GaussianNoise


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_dropout_generator_is_random_in_eval_mode(make_trick, ctx, arch) -> None:
    shape = (1, 16, 16) if arch == "dcgan" else (2,)
    generator, _ = build_models(ModelConfig(arch=arch, latent_dim=16, g_width=8), shape)
    hidden = sum(name.endswith("_act") for name in generator._modules)
    generator = make_trick("generator_dropout", p=0.5).build_generator(generator, ctx).eval()
    layers = [m for m in generator.modules() if isinstance(m, AlwaysOnDropout)]
    assert len(layers) == hidden > 0
    dropped: list[torch.Tensor] = []
    layers[0].register_forward_hook(lambda _, args, out: dropped.append(out[args[0] != 0] == 0))
    z = torch.randn(64, 16)
    with torch.no_grad():
        first, second = generator(z), generator(z)
    assert not torch.allclose(first, second)  # same z, different samples: dropout is noise
    assert dropped[0].float().mean().item() == pytest.approx(0.5, abs=0.03)  # of nonzero units


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_layer_noise_has_the_configured_std_while_training(make_trick, ctx, arch) -> None:
    shape = (1, 16, 16) if arch == "dcgan" else (2,)
    generator, _ = build_models(ModelConfig(arch=arch, latent_dim=16, g_width=8), shape)
    generator = make_trick("generator_layer_noise", sigma=0.3).build_generator(generator, ctx)
    layers = [m for m in generator.modules() if isinstance(m, GaussianNoise)]
    assert len(layers) == sum(name.endswith("_noise") for name in generator._modules) > 0
    added: list[torch.Tensor] = []
    for layer in layers:
        layer.register_forward_hook(lambda _, args, out: added.append(out - args[0]))
    z = torch.randn(256, 16)
    with torch.no_grad():
        first, second = generator(z), generator(z)
        assert not torch.allclose(first, second)
        for noise in added:
            assert noise.std().item() == pytest.approx(0.3, rel=0.05)
        generator.eval()
        torch.testing.assert_close(generator(z), generator(z))  # no noise at sampling time
