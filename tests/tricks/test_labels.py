"""Label tricks set D's targets as their papers say."""

from __future__ import annotations

import pytest
import torch


def targets(n: int = 100_000) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.ones(n), torch.zeros(n)


def test_one_sided_smoothing_changes_only_real_targets(make_trick, ctx) -> None:
    trick = make_trick("one_sided_label_smoothing", real_target=0.9)
    real, fake = trick.d_targets(*targets(), ctx)
    assert torch.all(real == 0.9)
    assert torch.all(fake == 0.0)


def test_soft_labels_fall_in_their_ranges_and_vary(make_trick, ctx) -> None:
    real, fake = make_trick("soft_labels").d_targets(*targets(), ctx)
    assert real.min() >= 0.7 and real.max() <= 1.2
    assert fake.min() >= 0.0 and fake.max() <= 0.3
    assert abs(real.mean().item() - 0.95) < 0.01 and abs(fake.mean().item() - 0.15) < 0.01


def test_noisy_labels_flip_at_the_configured_rate(make_trick, ctx) -> None:
    real, fake = make_trick("noisy_labels", flip_probability=0.2).d_targets(*targets(), ctx)
    assert set(real.unique().tolist()) == {0.0, 1.0}
    assert abs((real == 0).float().mean().item() - 0.2) < 0.01
    assert abs((fake == 1).float().mean().item() - 0.2) < 0.01


def test_noisy_labels_flip_smoothed_targets(make_trick, ctx) -> None:
    smoothed = torch.full((10_000,), 0.9)
    real, _ = make_trick("noisy_labels", flip_probability=0.5).d_targets(
        smoothed, torch.zeros(10_000), ctx
    )
    assert sorted(real.unique().tolist()) == pytest.approx([0.1, 0.9])
