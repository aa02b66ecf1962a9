"""Sampling-time tricks: truncation bounds latents, DRS prefers what D likes, DDLS's target."""

from __future__ import annotations

import torch
from torch import nn

from bench.tricks.registry import Nets


def with_prior(ctx, nets: Nets) -> None:
    ctx.nets, ctx.phase = nets, "sample"
    ctx.latent_prior = lambda n: (
        torch.randn(n, 2, generator=ctx.generator),
        None,
    )


def linear_d(weight: list[float]) -> nn.Module:
    d = nn.Linear(len(weight), 1, bias=False)
    d.weight.data = torch.tensor([weight])
    return nn.Sequential(d, nn.Flatten(0))


def test_truncation_bounds_every_component_and_shrinks_norms(make_trick, ctx) -> None:
    with_prior(ctx, Nets(nn.Identity(), linear_d([1.0, 0.0])))
    z = torch.randn(5000, 2, generator=ctx.generator)
    truncated, _ = make_trick("truncation", threshold=0.5).sample(z, None, ctx)
    assert truncated.abs().max() <= 0.5
    assert truncated.norm(dim=1).mean() < 0.5 * z.norm(dim=1).mean()


def test_rejection_sampling_keeps_the_count_and_prefers_high_d_scores(make_trick, ctx) -> None:
    with_prior(ctx, Nets(nn.Identity(), linear_d([3.0, 0.0])))  # D likes large z_0
    z = torch.randn(2000, 2, generator=ctx.generator)
    kept, _ = make_trick("rejection_sampling").sample(z, None, ctx)
    assert kept.shape == z.shape
    assert kept[:, 0].mean() > z[:, 0].mean() + 0.5
    assert abs(kept[:, 1].mean()) < 0.1  # the direction D ignores is left alone


def test_langevin_refinement_samples_prior_times_exp_d(make_trick, ctx) -> None:
    # E(z) = |z|^2 / 2 - w . z: the target density is N(w, I).
    with_prior(ctx, Nets(nn.Identity(), linear_d([1.0, -2.0])))
    trick = make_trick("langevin_refinement", steps=300, step_size=0.05)
    refined, _ = trick.sample(torch.randn(4000, 2, generator=ctx.generator), None, ctx)
    assert torch.allclose(refined.mean(0), torch.tensor([1.0, -2.0]), atol=0.1)
    assert torch.allclose(refined.std(0), torch.ones(2), atol=0.1)
