"""Sampling-time tricks: truncation bounds latents, DRS prefers what D likes, DDLS's target."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.errors import ConfigError
from bench.tricks.registry import Nets, resolve_tricks


def with_prior(ctx, nets: Nets) -> None:
    ctx.nets, ctx.phase = nets, "sample"
    ctx.latent_prior = lambda n: (
        torch.randn(n, 2, generator=ctx.rng),
        None,
    )


def linear_d(weight: list[float]) -> nn.Module:
    d = nn.Linear(len(weight), 1, bias=False)
    d.weight.data = torch.tensor([weight])
    return nn.Sequential(d, nn.Flatten(0))


def test_truncation_bounds_every_component_and_shrinks_norms(make_trick, ctx) -> None:
    with_prior(ctx, Nets(nn.Identity(), linear_d([1.0, 0.0])))
    z = torch.randn(5000, 2, generator=ctx.rng)
    truncated, _ = make_trick("truncation", threshold=0.5).sample(z, None, ctx)
    assert truncated.abs().max() <= 0.5
    assert truncated.norm(dim=1).mean() < 0.5 * z.norm(dim=1).mean()


def test_rejection_sampling_keeps_the_count_and_prefers_high_d_scores(make_trick, ctx) -> None:
    with_prior(ctx, Nets(nn.Identity(), linear_d([3.0, 0.0])))  # D likes large z_0
    z = torch.randn(2000, 2, generator=ctx.rng)
    trick = make_trick("rejection_sampling")
    trick.setup(ctx)
    kept, _ = trick.sample(z, None, ctx)
    assert kept.shape == z.shape
    assert kept[:, 0].mean() > z[:, 0].mean() + 0.5
    assert abs(kept[:, 1].mean()) < 0.1  # the direction D ignores is left alone


def test_rejection_sampling_takes_d_max_from_a_burn_in(make_trick, ctx) -> None:
    with_prior(ctx, Nets(nn.Identity(), linear_d([3.0, 0.0])))
    trick = make_trick("rejection_sampling", burn_in=10_000)
    trick.setup(ctx)
    few = torch.randn(4, 2, generator=ctx.rng)
    trick.sample(few, None, ctx)
    # The max of 10,000 N(0, 1) draws is about 3.7 (below 3 with probability ~1e-6); a batch
    # of 4 alone would set D_max near 3 * 1.0.
    assert trick.burnt_in[1] > 3.0 * 3.0
    assert trick.burnt_in[1] >= 3.0 * few[:, 0].max()


@pytest.mark.parametrize("loss", ["hinge_loss", "least_squares_loss", "wasserstein_loss"])
def test_rejection_sampling_refuses_losses_whose_logit_is_not_a_density_ratio(loss) -> None:
    with pytest.raises(ConfigError) as refused:
        resolve_tricks({"rejection_sampling": {}, loss: {}}, "suite.toml", frozenset())
    message = str(refused.value)
    assert "rejection_sampling" in message and loss in message and "density ratio" in message
    assert "\n" not in message
    resolve_tricks(
        {"rejection_sampling": {}, "explicit_sigmoid_bce": {}}, "suite.toml", frozenset()
    )


def test_langevin_refinement_samples_prior_times_exp_d(make_trick, ctx) -> None:
    # E(z) = |z|^2 / 2 - w . z: the target density is N(w, I).
    with_prior(ctx, Nets(nn.Identity(), linear_d([1.0, -2.0])))
    trick = make_trick("langevin_refinement", steps=300, step_size=0.05)
    refined, _ = trick.sample(torch.randn(4000, 2, generator=ctx.rng), None, ctx)
    assert torch.allclose(refined.mean(0), torch.tensor([1.0, -2.0]), atol=0.1)
    assert torch.allclose(refined.std(0), torch.ones(2), atol=0.1)
