"""History tricks: replay ratio, checkpoint swaps, historical averages and the EMA of G."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def test_experience_replay_feeds_old_fakes_at_the_configured_ratio(make_trick, ctx) -> None:
    trick = make_trick("experience_replay", ratio=0.25, buffer_batches=2)
    trick.setup(ctx)  # batch 64: the buffer holds 128 fakes
    old = torch.full((64, 1, 8, 8), 7.0)
    _, first = trick.d_inputs(None, old, ctx)
    assert torch.equal(first, old)  # nothing to replay yet
    _, mixed = trick.d_inputs(None, torch.zeros(64, 1, 8, 8), ctx)
    replayed = (mixed.flatten(1) == 7.0).all(dim=1)
    assert replayed.sum().item() == 16  # 25% of 64, all from the first batch
    ctx.phase = "g"
    _, fresh = trick.d_inputs(None, torch.zeros(64, 1, 8, 8), ctx)
    assert torch.all(fresh == 0)  # G is trained on fresh fakes only


def test_checkpoint_swapping_swaps_an_old_snapshot_in_then_restores(make_trick, ctx) -> None:
    trick = make_trick("checkpoint_swapping", every=2, duration=3, probability=1.0)
    trick.setup(ctx)
    d, g = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)

    def step(value: float) -> float:
        with torch.no_grad():
            d.weight.fill_(value)  # what training would have done this iteration
        trick.after_step(g, d, ctx)
        return d.weight.item()

    assert [step(v) for v in (1.0, 2.0, 3.0)] == [1.0, 2.0, 3.0]  # snapshot of 2 at it. 2
    assert step(4.0) == 2.0  # it. 4: snapshot of 4, the old snapshot (2) is swapped in
    assert [step(v) for v in (5.0, 6.0)] == [5.0, 6.0]  # training goes on with the old D
    assert step(7.0) == 4.0  # after 3 iterations the current D (4) comes back


def test_historical_averaging_penalises_distance_to_the_running_mean(
    make_trick, make_terms, ctx
) -> None:
    trick = make_trick("historical_averaging", weight=0.5)
    trick.setup(ctx)
    d, g = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    for value in (1.0, 2.0, 6.0):
        with torch.no_grad():
            d.weight.fill_(value)
        trick.after_step(g, d, ctx)
    with torch.no_grad():
        d.weight.fill_(5.0)  # mean of the history is 3
    terms = make_terms(torch.ones(4, 1), torch.ones(4, 1), d)
    assert trick.d_loss(torch.tensor(0.0), terms, ctx).item() == pytest.approx(0.5 * 2.0**2)


def test_ema_generator_scores_the_configured_average(make_trick, ctx) -> None:
    trick = make_trick("ema_generator", decay=0.9)
    trick.setup(ctx)
    g = nn.Linear(1, 1, bias=False)
    for step, value in enumerate((1.0, 2.0, 4.0), start=100):  # warm-up over: decay 0.9
        ctx.step.fill_(step)
        with torch.no_grad():
            g.weight.fill_(value)
        trick.after_step(g, nn.Identity(), ctx)
    expected = 0.9 * (0.9 * 1.0 + 0.1 * 2.0) + 0.1 * 4.0
    scored = trick.evaluation_generator(g, ctx)
    assert scored is not g and scored.weight.item() == pytest.approx(expected)
    assert g.weight.item() == 4.0
