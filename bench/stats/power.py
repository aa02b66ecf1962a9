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
- Equivalence: the margin (in the same SDs) within which the two one-sided exact signed-rank
  tests (Schuirmann 1987) show an effect of zero to be equivalent with 80% power at level
  alpha / k, simulated the same way.
- Seeds to decide (`seeds_to_decide`): the fewest paired seeds with 80% power both to detect
  an effect as large as the margin and to show equivalence when there is no effect, the
  classic two-point design for a question with a smallest effect that matters.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from bench.stats.corrections import Correction
from bench.stats.ranktests import (
    paired_floor,
    rank_sum_rejects,
    signed_rank_one_sided_rejects,
    signed_rank_rejects,
)

POWER = 0.8
POWER_DRAWS = 4000
MAX_SEEDS = 200
SIMULATED_SEEDS = 30  # beyond: the simulated shift at 30 seeds, scaled by sqrt(30 / n)


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


def _bisect_power(power, floor_reached: bool) -> float:
    """The smallest x >= 0 with power(x) >= POWER (power rises with x); inf if none is found."""
    if not floor_reached:
        return math.inf
    low, high = 0.0, 1.0
    while power(high) < POWER:
        low, high = high, high * 2
        if high > 1e4:
            return math.inf
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if power(middle) < POWER else (low, middle)
        if high - low < 1e-3 * high:
            break
    return high


@functools.cache
def detectable_shift(n_x: int, level: float, n_y: int = 0) -> float:
    """The smallest shift (in SDs) detected with 80% power at `level`; inf if none can be.

    `n_y = 0`: paired seeds (n_x pairs); else unpaired seeds, n_x against n_y. Beyond
    `SIMULATED_SEEDS` paired seeds the statistic is close to normal and the shift falls as
    1/sqrt(n): it is scaled from its value at `SIMULATED_SEEDS` (3-4% larger than simulated
    at 60 seeds, so on the safe side) instead of simulated.
    """
    if n_y == 0 and n_x > SIMULATED_SEEDS:
        return detectable_shift(SIMULATED_SEEDS, level) * math.sqrt(SIMULATED_SEEDS / n_x)
    floor = paired_floor(n_x) if n_y == 0 else unpaired_floor(n_x, n_y)
    reachable = n_x >= 2 and n_y != 1 and floor < level
    return _bisect_power(lambda shift: _power(shift, n_x, n_y, level), reachable)


def _equivalence_power(margin: float, pairs: int, level: float) -> float:
    """P(both one-sided exact signed-rank tests reject at `level`) when there is no effect and
    the margin is `margin` standard deviations of the paired differences."""
    x, _ = _draws(pairs, 0)
    rejects = signed_rank_one_sided_rejects(pairs, level)
    top = pairs * (pairs + 1) // 2
    statistics = []
    for shifted in (x + margin, x - margin):
        ranks = np.argsort(np.argsort(np.abs(shifted), axis=1), axis=1) + 1
        statistics.append((ranks * (shifted > 0)).sum(axis=1))
    return float((rejects[statistics[0]] & rejects[top - statistics[1]]).mean())


@functools.cache
def equivalence_shift(pairs: int, level: float) -> float:
    """The smallest margin (in SDs of the paired differences) within which `pairs` seeds show
    a zero effect equivalent with 80% power at `level`; inf if none can (one-sided floor).
    Scaled beyond `SIMULATED_SEEDS` as `detectable_shift` is."""
    if pairs > SIMULATED_SEEDS:
        return equivalence_shift(SIMULATED_SEEDS, level) * math.sqrt(SIMULATED_SEEDS / pairs)
    reachable = pairs >= 2 and 0.5**pairs < level
    return _bisect_power(lambda margin: _equivalence_power(margin, pairs, level), reachable)


def detectable_effect(
    spread: float, n_x: int, comparisons: int, alpha: float, n_y: int = 0
) -> float:
    """The effect (metric units) a lone comparison detects with 80% power after correction."""
    if not np.isfinite(spread):
        return math.nan
    return spread * detectable_shift(n_x, alpha / max(comparisons, 1), n_y)


def _fewest_seeds(enough) -> int | None:
    """The fewest seeds n in 2..MAX_SEEDS with `enough(n)` (monotone in n); None if none."""
    low, high = 1, 2
    while not enough(high):
        if high >= MAX_SEEDS:
            return None
        low, high = high, min(2 * high, MAX_SEEDS)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def seeds_needed(spread: float, effect: float, comparisons: int, alpha: float) -> int | None:
    """The fewest paired seeds that detect `effect` with 80% power; None if over MAX_SEEDS."""
    if not (spread >= 0 and effect > 0):
        return None
    level = alpha / max(comparisons, 1)

    def enough(seeds: int) -> bool:
        shift = detectable_shift(seeds, level)
        return math.isfinite(shift) and spread * shift <= effect

    return _fewest_seeds(enough)


def equivalence_seeds(spread: float, margin: float, comparisons: int, alpha: float) -> int | None:
    """The fewest paired seeds that show a zero effect inside +/- `margin` with 80% power."""
    if not (spread >= 0 and margin > 0):
        return None
    level = alpha / max(comparisons, 1)

    def enough(seeds: int) -> bool:
        shift = equivalence_shift(seeds, level)
        return math.isfinite(shift) and spread * shift <= margin

    return _fewest_seeds(enough)


def seeds_to_decide(spread: float, margin: float, comparisons: int, alpha: float) -> int | None:
    """Paired seeds with 80% power to call an effect of `margin` helps or hurts and a zero
    effect equivalent; None if over MAX_SEEDS or the spread is unknown."""
    needed = [
        seeds_needed(spread, margin, comparisons, alpha),
        equivalence_seeds(spread, margin, comparisons, alpha),
    ]
    return None if None in needed else max(needed)  # type: ignore[type-var]
