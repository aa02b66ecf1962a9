"""The monitor's warning thresholds on many synthetic healthy runs: false alarms, and hits.

`detector_traces.json` holds 16 recorded healthy runs; too few to pin a rate. Here each of
`RUNS` synthetic healthy histories (`POINTS` log points, as `Monitor.flush` writes them) has
parameters drawn from the ranges those recorded runs span (`healthy_history`): a D loss level
with drift, a slow GAN-like oscillation and autocorrelated noise; a within-interval spread
whose log wanders; a peak a few spreads above the mean; a sample diversity that rises from a
fresh G's and fluctuates. The rates are exact for these seeds; docs/failure_detectors.md
lists them beside each threshold. Planted failures must be caught in nearly every run.
"""

from __future__ import annotations

import math
import random

import pytest

from bench.train.monitor import Row, judge_history

RUNS = 1000
POINTS = 20  # log points per run: 2,000 steps at log_every = 100
FALSE_ALARM_BOUND = {  # per run; measured on these seeds in the comment
    "d_loss_spike": 0.02,  # 0.3%
    "d_loss_variance": 0.05,  # 2.8% (11.9% at the growth of 10 used before)
    "diversity_collapse": 0.01,  # 0.1%
    "oscillation": 0.01,  # 0.2%
    "g_loss_falling_without_quality": 0.02,  # 0.8%
    "non_finite": 0.0,
    "d_loss_collapse": 0.0,
    "dead_training": 0.0,
}
HIT_BOUND = 0.95


def ar1(rng: random.Random, n: int, rho: float, sd: float) -> list[float]:
    """A stationary AR(1) series with lag-1 correlation `rho` and marginal sd `sd`."""
    x, series = rng.gauss(0, sd), []
    for _ in range(n):
        series.append(x)
        x = rho * x + math.sqrt(1 - rho * rho) * rng.gauss(0, sd)
    return series


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def healthy_history(seed: int) -> list[Row]:
    """One healthy run's history rows; each range spans the 16 recorded healthy runs'.

    Recorded: D loss level 0.4-1.4 (BCE); log-point-to-log-point change of the mean 0.3-3x
    the within-interval spread (digits ~2, ring ~0.5) and 0.8-12% of the level; a drift over
    the run of up to ~10 spreads and slow swings of a few (digits: 1.28 -> 1.36, spread
    0.01); the log of
    that spread wandering with sd 0.17-0.65 per log point; interval peaks 1.4-4.8 spreads
    above the mean (a run's median 1.8-3.4); diversity dipping to 0.06 for a point or two.
    """
    rng = random.Random(seed)
    base, rho, relative_noise = (
        rng.uniform(0.4, 1.4),
        rng.uniform(0.3, 0.8),
        log_uniform(rng, 0.004, 0.08),
    )
    noise = ar1(rng, POINTS, rho, relative_noise * base)
    change_per_spread = log_uniform(rng, 0.3, 3.0)  # sd of the change of the mean / spread
    spread = relative_noise * base * math.sqrt(2 * (1 - rho)) / change_per_spread
    drift = rng.uniform(-1, 1) * min(10 * spread, 0.3 * base)
    swing = rng.uniform(0, 1) * min(3 * spread, 0.1 * base)
    period, phase = rng.uniform(6, 20), rng.uniform(0, 2 * math.pi)
    wander = rng.uniform(0.15, 0.65)
    log_spread = ar1(rng, POINTS, rng.uniform(0.0, 0.5), wander)
    diversity, log_diversity = rng.uniform(0.5, 1.0), ar1(rng, POINTS, 0.3, rng.uniform(0.1, 0.8))
    g_level, g_trend = rng.uniform(0.6, 2.0), rng.uniform(-0.3, 0.3)
    g_noise = ar1(rng, POINTS, 0.5, rng.uniform(0.01, 0.1))
    nearest_noise = ar1(rng, POINTS, 0.5, rng.uniform(0.01, 0.1))
    peak = rng.uniform(1.8, 3.4)  # a run's median peak, in spreads above the mean
    gradient = rng.uniform(0.2, 40.0)  # below GRAD_NORM_LIMIT, a bound from a guideline
    rows = []
    for t in range(POINTS):
        level = base + drift * t / POINTS + swing * math.sin(2 * math.pi * t / period + phase)
        d_loss, sd = level + noise[t], spread * math.exp(log_spread[t])
        rows.append(
            {
                "step": 100.0 * (t + 1),
                "d_loss": d_loss,
                "d_loss_var": sd**2,
                "d_loss_max": d_loss + peak * math.exp(rng.gauss(0, 0.2)) * sd,
                "g_loss": g_level * (1 + g_trend * t / POINTS) + g_noise[t],
                "d_grad_norm_max": gradient * rng.uniform(0.5, 1.5),
                "g_grad_norm_max": gradient * rng.uniform(0.5, 1.5),
                "diversity_ratio": min(1.0, 0.2 + t / 10) * diversity * math.exp(log_diversity[t]),
                "nearest_real_ratio": (3 - 1.5 * min(1.0, t / 10)) * math.exp(nearest_noise[t]),
            }
        )
    return rows


def fired(rows: list[Row], since: float = 0.0) -> set[str]:
    """The detectors a monitor raises over `rows` at or after step `since`."""
    events, divergence = judge_history(rows)
    found = {e.detector for e in events if e.step >= since}
    return found | ({divergence.detector} if divergence and divergence.step >= since else set())


def false_alarm_rates() -> dict[str, float]:
    counts = dict.fromkeys(FALSE_ALARM_BOUND, 0)
    for seed in range(RUNS):
        for detector in fired(healthy_history(seed)) & set(counts):
            counts[detector] += 1
    return {detector: count / RUNS for detector, count in counts.items()}


def test_healthy_runs_raise_few_false_alarms() -> None:
    rates = false_alarm_rates()
    over = {d: rate for d, rate in rates.items() if rate > FALSE_ALARM_BOUND[d]}
    assert not over, f"false-alarm rates over their bounds: {over} (all: {rates})"


def plant_spike(rows: list[Row], at: int) -> None:
    """D's loss blows up to ten times its level within one interval."""
    rows[at]["d_loss_max"] = 10 * rows[at]["d_loss"]


def plant_variance(rows: list[Row], at: int) -> None:
    """From `at` on, D's loss varies within each interval 10x as widely (100x the variance)."""
    for row in rows[at:]:
        row["d_loss_var"] *= 100


def plant_diversity_collapse(rows: list[Row], at: int) -> None:
    """From `at` on, G's fixed batch of fakes is nearly one image (mode collapse)."""
    for row in rows[at:]:
        row["diversity_ratio"] = 0.02


def plant_oscillation(rows: list[Row], at: int) -> None:
    """From `at` on, D's loss swings +-25% of its level, alternating at every log point."""
    for i, row in enumerate(rows[at:]):
        row["d_loss"] *= 1.25 if i % 2 else 0.75


PLANTED = {
    "d_loss_spike": plant_spike,
    "d_loss_variance": plant_variance,
    "diversity_collapse": plant_diversity_collapse,
    "oscillation": plant_oscillation,
}


@pytest.mark.parametrize("detector", sorted(PLANTED))
def test_planted_failures_are_caught(detector: str) -> None:
    runs, caught = 200, 0
    for seed in range(runs):
        rows = healthy_history(seed)
        at = random.Random(-seed).randrange(POINTS // 2, POINTS - 8)
        PLANTED[detector](rows, at)
        caught += detector in fired(rows, since=rows[at]["step"])
    assert caught / runs >= HIT_BOUND, f"{detector}: caught in {caught} of {runs} runs"
