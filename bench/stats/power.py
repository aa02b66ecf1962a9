"""What a design can decide: floors of exact tests, corrections, detectable effects, seeds.

- Floor: an exact test on n paired seeds cannot give a two-sided p below 2/2^n (every seed
  on one side); the rank-sum test on n_x and n_y seeds not below 2/C(n_x + n_y, n_x).
- Corrected floor: Holm multiplies the smallest p by k, the number of comparisons, so the
  best adjusted p is k x floor. Benjamini-Hochberg reaches the floor itself when every
  comparison is at its floor, and k x floor for a lone effect.
- Detectable effect: the shift (in units of the standard deviation of the paired differences,
  or of each side for unpaired seeds) that the exact test detects with 80% power at level
  alpha / k, the level a lone effect must reach under either correction. Computed by
  simulation under the exact test with normal noise (fixed draws, so it is reproducible), so
  the discreteness of exact tests at few seeds is respected, not approximated away.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from bench.stats.corrections import Correction
from bench.stats.ranktests import paired_floor, rank_sum_rejects, signed_rank_rejects

POWER = 0.8
POWER_DRAWS = 4000
MAX_SEEDS = 200


def unpaired_floor(n_x: int, n_y: int) -> float:
    """The smallest two-sided p-value of the exact rank-sum test with these sample sizes."""
    return min(1.0, 2 / math.comb(n_x + n_y, n_x)) if n_x and n_y else 1.0


def corrected_floor(floor: float, comparisons: int, correction: Correction) -> float:
    """The smallest adjusted p a design can reach (BH: with every comparison at its floor)."""
    if correction == "bh":
        return floor
    return min(1.0, floor * max(comparisons, 1))


def lone_floor(floor: float, comparisons: int) -> float:
    """The smallest adjusted p of one comparison whose effect is the only one (either method)."""
    return min(1.0, floor * max(comparisons, 1))


@functools.cache
def _draws(n_x: int, n_y: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([n_x, n_y, 20_261_202])
    return rng.standard_normal((POWER_DRAWS, n_x)), rng.standard_normal((POWER_DRAWS, n_y))


def _power(shift: float, n_x: int, n_y: int, level: float) -> float:
    """P(exact test rejects at `level`) when the effect is `shift` standard deviations."""
    x, y = _draws(n_x, n_y)
    if n_y == 0:  # paired: the differences are Normal(shift, 1)
        differences = x + shift
        ranks = np.argsort(np.argsort(np.abs(differences), axis=1), axis=1) + 1
        statistic = (ranks * (differences > 0)).sum(axis=1)
        return float(signed_rank_rejects(n_x, level)[statistic].mean())
    pooled = np.concatenate([x + shift, y], axis=1)
    ranks = np.argsort(np.argsort(pooled, axis=1), axis=1) + 1
    statistic = ranks[:, :n_x].sum(axis=1)
    return float(rank_sum_rejects(n_x, n_y, level)[statistic].mean())


@functools.cache
def detectable_shift(n_x: int, level: float, n_y: int = 0) -> float:
    """The smallest shift (in SDs) detected with 80% power at `level`; inf if none can be.

    `n_y = 0`: paired seeds (n_x pairs); else unpaired seeds, n_x against n_y.
    """
    floor = paired_floor(n_x) if n_y == 0 else unpaired_floor(n_x, n_y)
    if n_x < 2 or (n_y == 1) or floor >= level:
        return math.inf
    low, high = 0.0, 1.0
    while _power(high, n_x, n_y, level) < POWER:
        low, high = high, high * 2
        if high > 1e4:
            return math.inf
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if _power(middle, n_x, n_y, level) < POWER else (low, middle)
        if high - low < 1e-3 * high:
            break
    return high


def detectable_effect(
    spread: float, n_x: int, comparisons: int, alpha: float, n_y: int = 0
) -> float:
    """The effect (metric units) a lone comparison detects with 80% power after correction."""
    if not np.isfinite(spread):
        return math.nan
    return spread * detectable_shift(n_x, alpha / max(comparisons, 1), n_y)


def seeds_needed(spread: float, effect: float, comparisons: int, alpha: float) -> int | None:
    """The fewest paired seeds that detect `effect` with 80% power; None if over MAX_SEEDS."""
    if not (spread >= 0 and effect > 0):
        return None
    level = alpha / max(comparisons, 1)

    def enough(seeds: int) -> bool:
        shift = detectable_shift(seeds, level)
        return math.isfinite(shift) and spread * shift <= effect

    low, high = 1, 2
    while not enough(high):
        if high >= MAX_SEEDS:
            return None
        low, high = high, min(2 * high, MAX_SEEDS)
    while high - low > 1:  # the detectable shift falls with the seed count
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high
