"""VAE-GAN's encoder terms and pix2pix's masked-completion task."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models
from bench.tricks.hybrids import kl_divergence
from bench.tricks.pix2pix import masked


def test_vae_gan_trains_an_encoder_with_kl_and_reconstruction_terms(
    make_trick, make_terms, ctx
) -> None:
    trick = make_trick("vae_gan")
    g, d = build_models(ModelConfig(latent_dim=16, g_width=8, d_width=8), (1, 8, 8))
    g = trick.build_generator(g, ctx)
    assert any(p is q for p in g.parameters() for q in trick.encoder.parameters())  # G's optimiser
    real = torch.randn(8, 1, 8, 8)
    terms = make_terms(real, g(torch.randn(8, 16)).detach(), d, generator=g)
    trick.g_loss(torch.tensor(0.0), terms, ctx).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trick.encoder.parameters())
    mu, log_var = torch.randn(4, 3), torch.randn(4, 3)
    reference = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, (0.5 * log_var).exp()), torch.distributions.Normal(0, 1)
    )
    assert kl_divergence(mu, log_var).item() == pytest.approx(
        reference.sum(1).mean().item(), rel=1e-5
    )


def test_pix2pix_completes_masked_images_with_an_l1_term(make_trick, make_terms, ctx) -> None:
    trick = make_trick("pix2pix", width=8, l1_weight=100.0)
    g = trick.build_generator(nn.Identity(), ctx)
    d = trick.build_discriminator(nn.Identity(), ctx)
    real = torch.rand(4, 1, 8, 8) * 2 - 1
    condition = masked(real, "bottom_half")
    assert torch.equal(condition[..., :4, :], real[..., :4, :]) and torch.all(
        condition[..., 4:, :] == -1
    )
    out = g(torch.randn(4, 16), condition_image=real)
    assert out.shape == real.shape and out.abs().max() <= 1
    assert d(out, condition_image=real).shape == (4, 4)  # a 2x2 map of patch logits per image
    half = real.clone()
    half[..., 4:, :] = 0  # G's "completion" is wrong by |real| on the bottom half
    d_with_condition = lambda x: d(x, condition_image=real)  # noqa: E731
    terms = make_terms(real, half, d_with_condition)
    expected = 100.0 * (half - real).abs().mean()
    assert trick.g_loss(torch.tensor(0.0), terms, ctx).item() == pytest.approx(expected.item())
