"""PacGAN packing: D sees m samples side by side and gives one logit per pack."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.errors import ConfigError
from bench.models import build_models


def test_packed_dcgan_d_scores_pairs_of_images(make_trick, ctx) -> None:
    _, d = build_models(ModelConfig(d_width=8), (1, 8, 8))
    packed = make_trick("packing").build_discriminator(d, ctx)
    assert packed.from_image.in_channels == 2
    images = torch.randn(6, 1, 8, 8)
    assert packed(images).shape == (3,)
    # A pack's logit depends on both of its samples and on no other pack.
    changed = images.clone()
    changed[1] += 1.0
    difference = packed(changed) - packed(images)
    assert difference[0] != 0 and torch.equal(difference[1:], torch.zeros(2))


def test_packed_mlp_d_concatenates_points(make_trick, ctx) -> None:
    _, d = build_models(ModelConfig(arch="mlp", mlp_hidden=16), (2,))
    packed = make_trick("packing", packing=4).build_discriminator(d, ctx)
    assert packed.fc0.in_features == 8
    points = torch.randn(8, 2)
    assert packed(points).shape == (2,)
    after_fc0 = nn.Sequential(*list(packed.children())[2:])
    first = after_fc0(packed.fc0(points[:4].reshape(1, 8)))  # points 0-3 side by side
    assert torch.allclose(first.flatten(), packed(points)[:1])


def test_batch_size_must_be_a_multiple_of_the_packing(make_trick, ctx) -> None:
    ctx.batch_size = 63
    with pytest.raises(ConfigError, match="batch_size \\(63\\) must be a multiple of packing"):
        make_trick("packing").setup(ctx)
