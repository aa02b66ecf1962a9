"""DiffAugment: random, differentiable transforms of every batch D sees, real and fake."""

from __future__ import annotations

import pytest
import torch

from bench.tricks.diffaugment import colour, cutout, translation


def test_translation_moves_content_by_at_most_the_ratio_with_zero_fill(ctx) -> None:
    x = torch.zeros(200, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    moved = translation(x, 0.125, ctx)
    assert torch.all(moved.sum(dim=(1, 2, 3)) == 1)  # the pixel moved, none invented
    rows, cols = moved[:, 0].nonzero()[:, 1:].T
    assert rows.min() == 6 and rows.max() == 10 and cols.min() == 6 and cols.max() == 10


def test_cutout_zeroes_a_square_of_the_configured_side(ctx) -> None:
    holes = 1 - cutout(torch.ones(400, 1, 32, 32), 0.5, ctx)
    area = holes.sum(dim=(1, 2, 3))
    assert area.max() == 16 * 16  # a full 16x16 square when it lies inside the image
    # centred uniformly on 0..31, each side keeps 14 of 16 px on average at the border
    assert area.mean() / 256 == pytest.approx((14 / 16) ** 2, abs=0.03)


def test_colour_changes_brightness_saturation_and_contrast_per_image(ctx) -> None:
    x = torch.rand(64, 3, 8, 8) * 2 - 1
    out = colour(x, ctx)
    shift = (out.mean(dim=(1, 2, 3)) - x.mean(dim=(1, 2, 3))).abs()
    assert shift.max() <= 0.5 + 1e-5 and shift.std() > 0.05  # per-image brightness draws


def test_augments_real_and_fake_in_d_updates_and_fake_in_g_updates_differentiably(
    make_trick, ctx
) -> None:
    trick = make_trick("diffaugment")
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    fake = (torch.rand(8, 1, 16, 16) * 2 - 1).requires_grad_(True)
    seen_real, seen_fake = trick.d_inputs(real, fake, ctx)
    assert not torch.equal(seen_real, real) and not torch.equal(seen_fake, fake)
    none, seen_fake = trick.d_inputs(None, fake, ctx)  # a G update
    assert none is None
    (grad,) = torch.autograd.grad(seen_fake.square().sum(), fake)
    assert grad.abs().sum() > 0  # G learns through T(G(z))
