"""Failure detectors: each fires on the evidence it names, once, at the step it starts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bench.train.losses import configured_objective
from bench.train.monitor import (
    DEAD_WINDOW,
    FIELDS,
    Monitor,
    SampleProbe,
    collapse_floor,
    dead_training,
    holding_warnings,
)
from bench.tricks.registry import TrainContext, build_tricks, resolve_tricks

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
        (row(d_max=5.0), "d_loss_spike"),  # 40 sd above the level
        (row(d_var=0.5), "d_loss_variance"),
    ],
)
def test_each_detector_fires_on_its_evidence(last, detector) -> None:
    assert fired([row(diversity_ratio=0.8) for _ in range(5)] + [last]) == {detector}


def test_diversity_collapse_is_a_sustained_drop() -> None:
    healthy = [row(diversity_ratio=0.8) for _ in range(5)]
    collapsed = [row(diversity_ratio=0.02) for _ in range(3)]
    assert fired(healthy + collapsed) == {"diversity_collapse"}
    assert fired(healthy + collapsed[:2]) == set()  # a dip of two log points
    dip = [row(diversity_ratio=0.07), row(diversity_ratio=0.5), row(diversity_ratio=0.05)]
    assert fired(healthy + dip) == set()


def test_low_diversity_from_the_start_is_not_a_collapse() -> None:
    assert fired([row(diversity_ratio=0.1) for _ in range(6)]) == set()


def test_g_loss_falling_while_the_quality_proxy_does_not_improve() -> None:
    falling = [row(g_loss=2.0 - 0.2 * i, nearest_real_ratio=1.5) for i in range(8)]
    assert "g_loss_falling_without_quality" in fired(falling)
    improving = [row(g_loss=2.0 - 0.2 * i, nearest_real_ratio=1.5 - 0.1 * i) for i in range(8)]
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
        Monitor(CPU, collapse_floor=None)._divergence(
            dict(zip(FIELDS, values.tolist(), strict=True)), 0, 1
        )
        is None
    )
    monitor = Monitor(CPU)
    monitor.record(0, values)
    assert monitor.flush(1)[2].detector == "d_loss_collapse"


def floor_of(objective: str, *tricks: tuple[str, dict]) -> float | None:
    ctx = TrainContext(CPU, torch.Generator().manual_seed(0), 10, 64, 8, (1, 8, 8))
    built = build_tricks(resolve_tricks(dict(tricks), "test", frozenset({"images"})))
    return collapse_floor(configured_objective(objective, "non_saturating"), built, ctx)


def test_collapse_floor_is_the_loss_of_perfect_separation_with_the_jobs_targets() -> None:
    assert floor_of("bce") == 0.0
    smoothing = ("one_sided_label_smoothing", {"real_target": 0.9})
    assert floor_of("bce", smoothing) == pytest.approx(0.325, abs=1e-3)  # H(0.9)
    noisy = ("noisy_labels", {"flip_probability": 0.05})
    assert floor_of("bce", noisy) == pytest.approx(2 * 0.1985, abs=0.02)  # 2 H(0.95)
    soft = ("soft_labels", {})  # real U[0.7, 1.2] (mean 0.95), fake U[0, 0.3] (mean 0.15)
    assert floor_of("explicit_sigmoid_bce", soft) == pytest.approx(0.1985 + 0.4227, abs=0.02)
    assert floor_of("least_squares", smoothing) == 0.0
    assert floor_of("least_squares", soft) == pytest.approx((0.25 + 0.09) / 24, rel=0.05)
    assert floor_of("hinge") == 0.0
    assert floor_of("wasserstein") is None


def test_collapse_fires_at_the_smoothed_floor_and_measuring_it_draws_nothing() -> None:
    ctx = TrainContext(CPU, torch.Generator().manual_seed(0), 10, 64, 8, (1, 8, 8))
    before = ctx.rng.get_state()
    tricks = build_tricks(resolve_tricks({"soft_labels": {}}, "test", frozenset()))
    collapse_floor(configured_objective("bce", "non_saturating"), tricks, ctx)
    assert torch.equal(ctx.rng.get_state(), before)
    smoothed = Monitor(CPU, collapse_floor=0.325)
    for step, d_loss in enumerate([0.5, 0.3255], start=1):  # healthy, then at the floor
        smoothed.record(step, torch.tensor([d_loss, 5.0, 0.9, 0.0, 0.1, 0.1]))
        divergence = smoothed.flush(step)[2]
    assert divergence is not None and divergence.detector == "d_loss_collapse"
    assert "floor is 0.325" in divergence.detail


def dead_row(step: int, grad: float, diversity: float, nearest: float = 1.0) -> dict[str, float]:
    return {
        "step": step,
        **row(grad=grad, diversity_ratio=diversity, nearest_real_ratio=nearest),
        "g_grad_norm_max": grad,
    }


def test_dead_training_needs_vanishing_gradients_and_a_constant_output() -> None:
    dead = [dead_row(25 * i, 0.0, 0.0) for i in range(1, DEAD_WINDOW + 1)]
    event = dead_training(dead, 100)
    assert event is not None and event.detector == "dead_training" and event.step == 100
    assert dead_training(dead[1:], 100) is None  # not for long enough yet
    assert dead_training([*dead[:-1], dead_row(75, 1e-3, 0.0)], 100) is None  # G still learns
    assert dead_training([*dead[:-1], dead_row(75, 0.0, 0.3)], 100) is None  # output varies


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


def test_stuck_training_is_a_constant_output_far_from_the_data_that_does_not_move() -> None:
    def history(nearest: list[float], diversity: float = 0.07) -> list[dict[str, float]]:
        return [dead_row(25 * (i + 1), 2.0, diversity, n) for i, n in enumerate(nearest)]

    grey = history([1.85, 1.83, 1.83, 1.82, 1.81, 1.81, 1.81, 1.80, 1.80])  # strong D, tiny G
    assert dead_training(grey, 225).detector == "dead_training"
    assert dead_training(grey[:-1], 200) is None  # not for STUCK_STEPS yet
    learning = history([1.85, 1.80, 1.74, 1.68, 1.62, 1.57, 1.53, 1.50, 1.48])  # slow, moving
    assert dead_training(learning, 225) is None
    assert dead_training(history([1.85] * 9, diversity=0.3), 225) is None  # varied output
    collapsed = history([1.0] * 9, diversity=0.01)  # one real mode: diversity_collapse's job
    assert dead_training(collapsed, 225) is None
    fine_grained = [dead_row(i + 1, 2.0, 0.07, 1.85) for i in range(20)]  # log_every = 1
    assert dead_training(fine_grained, 20) is None  # 20 steps say nothing about being stuck
