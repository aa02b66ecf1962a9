"""Optimiser tricks: SGD for D, TTUR's learning rates, loss-threshold balancing's schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def adam(net: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))


def test_sgd_discriminator_replaces_only_ds_optimiser(make_trick, ctx) -> None:
    trick, net = make_trick("sgd_discriminator", lr=0.05), nn.Linear(2, 1)
    d_opt = trick.optimizer("discriminator", adam(net), net, ctx)
    g_opt = adam(net)
    assert isinstance(d_opt, torch.optim.SGD) and d_opt.param_groups[0]["lr"] == 0.05
    assert trick.optimizer("generator", g_opt, net, ctx) is g_opt


def test_ttur_gives_d_and_g_their_own_learning_rates(make_trick, ctx) -> None:
    trick, net = make_trick("ttur"), nn.Linear(2, 1)
    assert trick.optimizer("discriminator", adam(net), net, ctx).param_groups[0]["lr"] == 4e-4
    assert trick.optimizer("generator", adam(net), net, ctx).param_groups[0]["lr"] == 1e-4


@pytest.mark.parametrize(
    ("d_loss", "g_loss", "expected"),
    [(1.5, 5.0, (2, 0)), (0.5, 5.0, (0, 1)), (0.5, 0.7, (2, 1))],
)
def test_loss_threshold_balancing_trains_the_losing_player_only(
    make_trick, ctx, d_loss, g_loss, expected
) -> None:
    trick = make_trick("loss_threshold_balancing", d_threshold=1.0, g_threshold=3.0)
    ctx.last_d_loss.fill_(d_loss)
    ctx.last_g_loss.fill_(g_loss)
    assert trick.schedule(2, 1, ctx) == expected
