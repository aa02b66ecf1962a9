"""Failure detectors: each fires on the evidence it names, once, at the step it starts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bench.train.monitor import FIELDS, Monitor, SampleProbe, holding_warnings

CPU = torch.device("cpu")


def row(d_loss=1.0, g_loss=1.0, d_var=0.01, d_max=None, grad=1.0, **probe) -> dict[str, float]:
    return {
        "d_loss": d_loss,
        "g_loss": g_loss,
        "d_loss_var": d_var,
        "d_loss_max": d_loss if d_max is None else d_max,
        "d_grad_norm_max": grad,
        "g_grad_norm_max": grad,
        **probe,
    }


def fired(rows: list[dict[str, float]]) -> set[str]:
    return {detector for _, detector, _ in holding_warnings(rows)}


def test_quiet_history_fires_nothing() -> None:
    assert fired([row() for _ in range(10)]) == set()


@pytest.mark.parametrize(
    ("last", "detector"),
    [
        (row(grad=150.0), "gradient_explosion"),
        (row(d_max=3.0), "d_loss_spike"),
        (row(d_var=0.5), "d_loss_variance"),
        (row(diversity_ratio=0.1), "diversity_collapse"),
    ],
)
def test_each_detector_fires_on_its_evidence(last, detector) -> None:
    assert fired([row(diversity_ratio=0.8) for _ in range(5)] + [last]) == {detector}


def test_low_diversity_from_the_start_is_not_a_collapse() -> None:
    assert fired([row(diversity_ratio=0.1) for _ in range(6)]) == set()


def test_g_loss_falling_while_the_quality_proxy_does_not_improve() -> None:
    falling = [row(g_loss=2.0 - 0.2 * i, nearest_real_ratio=1.5) for i in range(5)]
    assert "g_loss_falling_without_quality" in fired(falling)
    improving = [row(g_loss=2.0 - 0.2 * i, nearest_real_ratio=1.5 - 0.1 * i) for i in range(5)]
    assert "g_loss_falling_without_quality" not in fired(improving)


def test_oscillation_is_an_alternating_d_loss_trend() -> None:
    assert "oscillation" in fired([row(d_loss=1.0 + 0.3 * (-1) ** i) for i in range(8)])
    assert "oscillation" not in fired([row(d_loss=1.0 + 0.01 * i) for i in range(8)])


def test_monitor_records_a_warning_once_when_it_starts() -> None:
    monitor = Monitor(CPU)
    steps = []
    for step, grad in enumerate([1.0, 500.0, 500.0, 1.0, 500.0], start=1):
        monitor.record(step, torch.tensor([1.0, 1.0, 0.5, 0.5, grad, 1.0]))
        _, events, _ = monitor.flush(step)
        steps += [e.step for e in events if e.detector == "gradient_explosion"]
    assert steps == [2, 5]


def test_collapse_threshold_follows_the_objective() -> None:
    values = torch.tensor([-5.0, 1.0, 0.5, 0.5, 1.0, 1.0])  # a Wasserstein critic's loss
    assert (
        Monitor(CPU, collapse_threshold=None)._divergence(
            dict(zip(FIELDS, values.tolist(), strict=True)), 0, 1
        )
        is None
    )
    monitor = Monitor(CPU)
    monitor.record(0, values)
    assert monitor.flush(1)[2].detector == "d_loss_collapse"


def test_sample_probe_measures_diversity_and_closeness_to_data() -> None:
    real = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    held_out = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    probe = SampleProbe(real, held_out, torch.randn(64, 4), None, None)
    collapsed = probe.measure(ConstantG())  # every fake the same: mode collapse
    assert collapsed["diversity_ratio"] < 1e-6
    faithful = probe.measure(nn.Identity())  # fakes ~ N(0, I), like the data
    assert faithful["diversity_ratio"] == pytest.approx(1.0, abs=0.2)
    assert math.isfinite(faithful["nearest_real_ratio"])


class ConstantG(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(z)
