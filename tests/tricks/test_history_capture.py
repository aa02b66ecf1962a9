"""Experience replay and historical averaging, made capture-safe, still do what they claim."""

from __future__ import annotations

import torch
from torch import nn

BATCH = (64, 1, 8, 8)


def test_replay_buffer_fills_in_order_then_refreshes_random_entries(make_trick, ctx) -> None:
    trick = make_trick("experience_replay", ratio=0.25, buffer_batches=2)
    trick.setup(ctx)  # 128 entries
    for value in (1.0, 2.0):
        trick.d_inputs(None, torch.full(BATCH, value), ctx)
    stored = trick.buffer[: trick.capacity].flatten(1)[:, 0]
    assert torch.equal(stored, torch.tensor([1.0] * 64 + [2.0] * 64))  # in order
    assert int(trick.filled) == 128
    _, mixed = trick.d_inputs(None, torch.full(BATCH, 3.0), ctx)  # full: replace 16 at random
    shown = mixed.flatten(1)[:, 0]
    assert torch.all(torch.isin(shown[:16], torch.tensor([1.0, 2.0])))  # 25% from the past
    assert torch.all(shown[16:] == 3.0)
    stored = trick.buffer[: trick.capacity].flatten(1)[:, 0]
    replaced = int((stored == 3.0).sum())
    assert 1 <= replaced <= 16  # 16 random positions (duplicates possible)
    assert int((stored != 3.0).sum()) == 128 - replaced


def test_replay_only_draws_from_the_filled_part(make_trick, ctx) -> None:
    trick = make_trick("experience_replay", ratio=1.0, buffer_batches=50)
    trick.setup(ctx)
    trick.d_inputs(None, torch.full(BATCH, 5.0), ctx)
    for _ in range(20):  # everything shown comes from the one stored batch, never the zeros
        _, mixed = trick.d_inputs(None, torch.full(BATCH, 5.0), ctx)
        assert torch.all(mixed == 5.0)


def test_historical_average_is_the_mean_of_every_snapshot_with_no_penalty_before(
    make_trick, make_terms, ctx
) -> None:
    trick = make_trick("historical_averaging", weight=0.5)
    trick.setup(ctx)
    d, g = nn.Linear(2, 1), nn.Linear(1, 1)
    terms = make_terms(torch.ones(4, 2), torch.ones(4, 2), d)
    loss = torch.tensor(1.25)
    assert trick.d_loss(loss, terms, ctx).item() == 1.25  # no average yet: unchanged
    snapshots = []
    for value in (1.0, -2.0, 4.0, 0.5):
        with torch.no_grad():
            d.weight.fill_(value)
            d.bias.fill_(2 * value)
        snapshots.append([p.detach().clone() for p in d.parameters()])
        trick.after_step(g, d, ctx)
    for mean, *history in zip(trick.means["discriminator"], *snapshots, strict=True):
        assert torch.allclose(mean, torch.stack(history).mean(0))
    d.zero_grad()
    trick.d_loss(torch.tensor(0.0), terms, ctx).backward()
    assert torch.allclose(d.weight.grad, 0.5 * 2 * (d.weight - 0.875))
