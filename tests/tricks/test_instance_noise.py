"""Instance noise: sigma follows its linear schedule, reaches zero, and is what is added."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize(("step", "expected"), [(0, 0.4), (25, 0.2), (50, 0.0), (90, 0.0)])
def test_sigma_anneals_linearly_to_zero(make_trick, ctx, step, expected) -> None:
    trick = make_trick("instance_noise", sigma=0.4, anneal_fraction=0.5)  # zero at step 50
    ctx.step.fill_(step)
    assert trick.sigma(ctx).item() == pytest.approx(expected, abs=1e-6)


def test_noise_of_the_scheduled_std_is_added_to_both_inputs(make_trick, ctx) -> None:
    trick = make_trick("instance_noise", sigma=0.3)
    ctx.step.fill_(50)  # half-way: sigma = 0.15
    real, fake = torch.zeros(200_000), torch.ones(200_000)
    noisy_real, noisy_fake = trick.d_inputs(real, fake, ctx)
    assert noisy_real.std().item() == pytest.approx(0.15, rel=0.02)
    assert (noisy_fake - fake).std().item() == pytest.approx(0.15, rel=0.02)


def test_generator_updates_see_noised_fakes_too(make_trick, ctx) -> None:
    ctx.phase = "g"
    real, fake = make_trick("instance_noise").d_inputs(None, torch.zeros(1000), ctx)
    assert real is None and fake.std() > 0


def test_no_noise_after_annealing(make_trick, ctx) -> None:
    ctx.step.fill_(100)
    _, fake = make_trick("instance_noise", sigma=1.0).d_inputs(None, torch.zeros(1000), ctx)
    assert torch.all(fake == 0)
