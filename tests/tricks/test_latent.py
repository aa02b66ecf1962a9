"""Latent distributions: the uniform latent replaces the default N(0, I)."""

from __future__ import annotations

import torch


def test_uniform_latent_is_uniform_on_minus_one_one(make_trick, ctx) -> None:
    z = make_trick("uniform_latent").sample_latent(torch.randn(20_000, 16), None, ctx)
    assert z.shape == (20_000, 16)
    assert z.min() >= -1 and z.max() <= 1
    assert abs(z.mean().item()) < 0.01
    assert abs(z.var().item() - 1 / 3) < 0.01  # Var U[-1, 1] = 1/3, not 1
