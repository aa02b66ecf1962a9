"""Class-conditional tricks: labels reach G and D; AC-GAN's class loss; projection D's form."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench.config import ModelConfig
from bench.models import build_models
from bench.models.conditioning import call_net


def nets(trick, ctx):
    ctx.num_classes = 10
    g, d = build_models(ModelConfig(latent_dim=16, g_width=8, d_width=8), (1, 8, 8))
    return trick.build_generator(g, ctx).eval(), trick.build_discriminator(d, ctx).eval()


@pytest.mark.parametrize("combine", ["concat", "add", "multiply", "upsampled"])
def test_conditional_gan_feeds_the_label_to_g_and_d(make_trick, ctx, combine) -> None:
    g, d = nets(make_trick("conditional_gan", combine=combine), ctx)
    z, x = torch.randn(6, 16), torch.randn(6, 1, 8, 8)
    zeros, ones = torch.zeros(6, dtype=torch.long), torch.ones(6, dtype=torch.long)
    assert call_net(g, z, zeros).shape == (6, 1, 8, 8)
    assert not torch.allclose(call_net(g, z, zeros), call_net(g, z, ones))
    assert not torch.allclose(call_net(d, x, zeros), call_net(d, x, ones))


def test_auxiliary_classifier_adds_the_class_cross_entropy(make_trick, make_terms, ctx) -> None:
    trick = make_trick("auxiliary_classifier", class_weight=2.0)
    _, d = nets(trick, ctx)
    real, fake = torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)
    labels = torch.arange(8) % 10
    terms = make_terms(real, fake, d, real_labels=labels, fake_labels=labels.flip(0))
    d_ce = F.cross_entropy(d.classify(real), labels) + F.cross_entropy(
        d.classify(fake), labels.flip(0)
    )
    assert trick.d_loss(torch.tensor(1.0), terms, ctx).item() == pytest.approx(
        1 + 2 * d_ce.item(), rel=1e-5
    )
    g_ce = F.cross_entropy(d.classify(fake), labels.flip(0))
    assert trick.g_loss(torch.tensor(0.0), terms, ctx).item() == pytest.approx(
        2 * g_ce.item(), rel=1e-5
    )


def test_projection_discriminator_adds_the_label_features_inner_product(make_trick, ctx) -> None:
    _, d = nets(make_trick("projection_discriminator"), ctx)
    x = torch.randn(5, 1, 8, 8)
    a, b = torch.full((5,), 3), torch.full((5,), 7)
    features = d.net.from_image_act(d.net.from_image(x)).sum(dim=(2, 3))  # phi(x), sum-pooled
    expected = ((d.embedding.weight[3] - d.embedding.weight[7]) * features).sum(1)
    assert torch.allclose(d(x, a) - d(x, b), expected, atol=1e-5)
