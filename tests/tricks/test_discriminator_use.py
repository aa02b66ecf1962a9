"""Training-time use of D: LOGAN's latent step and top-k generator updates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.tricks.registry import Nets


def test_latent_optimisation_takes_logans_natural_gradient_step(make_trick, ctx) -> None:
    trick = make_trick("latent_optimisation", step_size=0.9, damping=5.0)
    w = torch.tensor([1.0, 2.0])  # G = identity, D(x) = w . x, so dD/dz = w
    d = nn.Linear(2, 1, bias=False)
    d.weight.data = w[None]
    ctx.nets, ctx.phase = Nets(nn.Identity(), d), "g"
    z = torch.zeros(3, 2)
    moved = trick.sample_latent(z, None, ctx)
    assert torch.allclose(moved, (0.9 / (5.0 + 5.0) * w).expand(3, 2))
    ctx.phase = "sample"
    assert trick.sample_latent(z, None, ctx) is z  # evaluation samples the prior


def test_top_k_updates_g_only_from_the_k_highest_scored_fakes(make_trick, make_terms, ctx) -> None:
    trick = make_trick("top_k_training", decay=0.5, minimum_fraction=0.25, iterations_per_decay=10)
    ctx.step.fill_(10)  # one decay period: k = 0.5 * 8 = 4
    fake = torch.tensor([0.3, -2.0, 1.5, 0.0, -0.5, 2.5, -1.0, 0.9])[:, None].requires_grad_(True)
    terms = make_terms(torch.zeros(8, 1), fake, nn.Flatten(0))
    trick.g_loss(torch.tensor(0.0), terms, ctx).backward()
    used = fake.grad.flatten() != 0
    assert set(used.nonzero().flatten().tolist()) == {0, 2, 5, 7}  # the four largest logits
    ctx.step.fill_(1000)
    assert trick.kept_fraction(ctx).item() == pytest.approx(0.25)  # never below the floor


def test_top_k_decays_once_per_epoch_by_default_as_sinha_et_al(make_trick, ctx) -> None:
    """k = max(0.99^epoch * batch, 0.5 * batch); an epoch of 640 samples at batch 64 is 10."""
    trick = make_trick("top_k_training")
    trick.prepare_data(torch.zeros(640, 1), ctx)  # ctx.batch_size is 64
    for step, fraction in [(9, 1.0), (10, 0.99), (25, 0.99**2), (10_000, 0.5)]:
        ctx.step.fill_(step)
        assert trick.kept_fraction(ctx).item() == pytest.approx(fraction)


def test_feature_matching_g_loss_is_the_feature_mean_distance(make_trick, make_terms, ctx) -> None:
    d = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1), nn.Flatten(0))
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    terms = make_terms(real, fake, d)
    hidden = d[1](d[0](real)).mean(0) - d[1](d[0](fake)).mean(0)
    loss = make_trick("feature_matching").g_loss(torch.tensor(99.0), terms, ctx)
    assert loss.item() == pytest.approx((hidden**2).sum().item(), rel=1e-5)  # GAN loss replaced
    added = make_trick("feature_matching", replace=False).g_loss(torch.tensor(99.0), terms, ctx)
    assert added.item() == pytest.approx(99.0 + loss.item(), rel=1e-5)
