"""Bootstrap confidence intervals over seeds: percentile or BCa.

- Percentile (Efron 1979): the interval is the (1 - level)/2 and (1 + level)/2 quantiles of
  the bootstrapped statistic.
- BCa, bias-corrected and accelerated (Efron 1987; Efron & Tibshirani 1993, ch. 14): the same
  bootstrap distribution read at shifted quantiles. The bias correction z0 is the normal
  quantile of the share of bootstrap values below the estimate (ties count half, as in
  `scipy.stats.bootstrap`); the acceleration comes from the jackknife (leave one seed out),
  summed over the samples of a two-sample statistic as scipy does. A jackknife that is
  constant or infinite (a failed seed) leaves the acceleration undefined: it is then 0, the
  bias-corrected percentile interval (Efron 1982).

The resampling is seeded from the data (`data_rng`): the same numbers always give the same
interval, whichever variant or level they belong to.

docs/statistics.md has the coverage of both at few seeds and why the report uses its default.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.special import ndtr, ndtri
from scipy.stats import t as student_t

from bench.errors import ResultsError

Interval = Literal["percentile", "bca"]
INTERVALS: dict[str, str] = {
    "percentile": "percentile bootstrap",
    "bca": "BCa bootstrap (bias-corrected and accelerated)",
}
RESAMPLES = 2000
LEVEL = 0.95


def check_interval(interval: str) -> Interval:
    """`interval` if it names a bootstrap interval, else a `ResultsError` naming the allowed."""
    if interval not in INTERVALS:
        raise ResultsError(f"interval '{interval}': expected one of {', '.join(INTERVALS)}")
    return interval  # type: ignore[return-value]


def data_rng(seed: int, *samples: np.ndarray) -> np.random.Generator:
    """A random stream determined by `seed` and the bytes of `samples` (as float64, each with
    its length), so bit-identical inputs always draw the same resamples."""
    digest = hashlib.sha256()
    for sample in samples:
        values = np.ascontiguousarray(sample, dtype=np.float64)
        digest.update(len(values).to_bytes(8, "little") + values.tobytes())
    words = np.frombuffer(digest.digest(), dtype=np.uint32)
    return np.random.default_rng([seed, *words.tolist()])


def leave_one_out(values: np.ndarray) -> np.ndarray:
    """The jackknife samples of `values`: row i is `values` without value i (none if n < 2)."""
    n = len(values)
    if n < 2:
        return np.empty((0, 0))
    return np.broadcast_to(values, (n, n))[~np.eye(n, dtype=bool)].reshape(n, n - 1)


def acceleration(jackknife: Sequence[np.ndarray]) -> float:
    """BCa's acceleration from each sample's leave-one-out statistics; 0 where undefined."""
    cubes = squares = 0.0
    for statistics in jackknife:
        n = len(statistics)
        if n < 2:
            continue
        with np.errstate(invalid="ignore"):
            spread = (n - 1) * (statistics.mean() - statistics)
        cubes += float((spread**3).sum()) / n**3
        squares += float((spread**2).sum()) / n**2
    if not (np.isfinite(cubes) and np.isfinite(squares) and squares > 0):
        return 0.0
    return cubes / (6 * squares**1.5)


def quantile_levels(
    interval: Interval,
    boot: np.ndarray,
    estimate: float,
    jackknife: Sequence[np.ndarray],
    level: float = LEVEL,
) -> tuple[float, float]:
    """The quantiles of the bootstrap distribution `boot` that bound the `interval`."""
    tail = (1 - level) / 2
    if interval == "percentile":
        return tail, 1 - tail
    below = (np.count_nonzero(boot < estimate) + np.count_nonzero(boot <= estimate)) / 2
    bias = ndtri(np.clip(below / len(boot), 0.5 / len(boot), 1 - 0.5 / len(boot)))
    shifted = bias + ndtri(np.array([tail, 1 - tail]))
    low, high = ndtr(bias + shifted / (1 - acceleration(jackknife) * shifted))
    return float(low), float(high)


def order_bounds(statistics: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """The `low` and `high` quantiles without interpolation (infinite bounds stay infinite)."""
    ordered = np.sort(statistics)
    last = len(ordered) - 1
    return float(ordered[int(np.floor(low * last))]), float(ordered[int(np.ceil(high * last))])


def bootstrap_ci(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    statistic: str = "median",
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    interval: Interval = "percentile",
) -> tuple[float, float]:
    """Bootstrap CI of `statistic(x) - statistic(y)`; each side resampled alone."""
    reduce = np.median if statistic == "median" else np.mean
    bx = reduce(x[rng.integers(0, len(x), (resamples, len(x)))], axis=1)
    by = reduce(y[rng.integers(0, len(y), (resamples, len(y)))], axis=1)
    jackknife = []
    if interval == "bca":
        jackknife = [
            reduce(leave_one_out(x), axis=1) - reduce(y),
            reduce(x) - reduce(leave_one_out(y), axis=1),
        ]
    estimate = float(reduce(x) - reduce(y))
    levels = quantile_levels(interval, bx - by, estimate, jackknife, level)
    low, high = np.quantile(bx - by, levels)
    return float(low), float(high)


def expanded_level(level: float, n: int) -> float:
    """The level at which a bootstrap of the mean of `n` values covers about `level`.

    Hesterberg (2015), "What teachers should know about the bootstrap", sec. 5.2 (the
    expanded percentile interval): a percentile interval of a mean is as narrow as a z
    interval with the divisor n, so it undercovers for few seeds (86-89% at 6-10 seeds).
    Widening it to the t interval's width, sqrt(n / (n - 1)) t_{n-1} standard errors, restores
    the t interval's coverage.
    """
    if n < 2:
        return level
    widened = math.sqrt(n / (n - 1)) * student_t.ppf((1 + level) / 2, n - 1)
    return float(1 - 2 * ndtr(-widened))


def bootstrap_mean_ci(
    differences: np.ndarray,
    rng: np.random.Generator,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    interval: Interval = "percentile",
) -> tuple[float, float]:
    """Bootstrap CI of the mean of paired `differences` (one per seed), resampling seeds,
    expanded for few seeds (`expanded_level`)."""
    n = len(differences)
    boot = differences[rng.integers(0, n, (resamples, n))].mean(axis=1)
    jackknife = [leave_one_out(differences).mean(axis=1)] if interval == "bca" else []
    estimate = float(differences.mean())
    levels = quantile_levels(interval, boot, estimate, jackknife, expanded_level(level, n))
    low, high = np.quantile(boot, levels)
    return float(low), float(high)
