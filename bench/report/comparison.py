"""One variant against the reference on one metric: paired where the seeds pair, else unpaired.

Outcomes: a job that finished with the metric is its value; a job that diverged or failed
(any status but ok and pruned, or ok without any finite metric) is an outcome too, worse than
any finished value: it enters as an infinitely bad value, so rank tests place it last (ties
among failures) and medians may be infinite. Pruned tuning trials, and jobs that simply did
not record this metric, are left out.

- Paired (both sides have the same seeds): per-seed differences d = variant - reference, the
  exact signed-rank test (`ranktests.signed_rank_pvalue`), the median of d as the effect with
  a bootstrap 95% CI over seeds (pairs resampled together; percentile or BCa, see
  `bench.stats.bootstrap`), and P(improvement) = the share of seeds where the variant did
  better (ties half).
- Unpaired (different seed sets): the exact (or Monte Carlo) rank-sum permutation test, the
  difference in medians with a bootstrap CI (each side resampled alone), and P(improvement)
  = the chance that a random variant seed beats a random reference seed.
- CI bounds are order statistics of the bootstrap values, without interpolation, so infinite
  bounds stay infinite.
- Spread, for the detectable effect: the SD of the finite paired differences, or the pooled SD
  of the finished values of both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from bench.stats.bootstrap import Interval, leave_one_out, order_bounds, quantile_levels
from bench.stats.power import unpaired_floor
from bench.stats.ranktests import (
    paired_floor,
    permutation_pvalue,
    prob_improvement,
    signed_rank_pvalue,
)

UNSCORED_STATUSES = ("pruned",)


@dataclass(frozen=True)
class Outcomes:
    """One variant's seeds on one metric: seed, value (failures: the worst value), failed?"""

    seeds: np.ndarray
    values: np.ndarray
    failed: np.ndarray

    def __len__(self) -> int:
        return len(self.seeds)

    @property
    def finished(self) -> np.ndarray:
        return self.values[~self.failed]

    def by_seed(self) -> np.ndarray:
        return self.values[np.argsort(self.seeds)]


def outcomes(jobs: pd.DataFrame, metric: str, sign: int, metrics: list[str]) -> dict[str, Outcomes]:
    """Per variant, its jobs' outcomes on `metric` (failures as -sign x inf), by name.

    `metrics`: the metric columns of `jobs`; an ok job with some of them but not `metric`
    did not measure it (left out), one with none produced no finite samples (failed).
    """
    value = pd.to_numeric(jobs[metric], errors="coerce").to_numpy(float)
    ok = (jobs["status"] == "ok").to_numpy()
    finished = ok & np.isfinite(value)
    measured = np.isfinite(jobs[metrics].to_numpy(dtype=float, na_value=np.nan)).any(axis=1)
    kept = ~(jobs["status"].isin(UNSCORED_STATUSES).to_numpy() | (ok & ~finished & measured))
    variants = jobs["variant"].to_numpy()[kept]
    seeds = jobs["seed"].to_numpy()[kept]
    values = np.where(finished, value, -sign * math.inf)[kept]
    failed = ~finished[kept]
    return {
        name: Outcomes(seeds[variants == name], values[variants == name], failed[variants == name])
        for name in dict.fromkeys(variants)
    }


EMPTY = Outcomes(np.array([], int), np.array([]), np.array([], bool))


def is_paired(variant: Outcomes, reference: Outcomes) -> bool:
    """Both sides have exactly the same seeds, each once."""
    seeds, ref_seeds = set(variant.seeds.tolist()), set(reference.seeds.tolist())
    unique = len(seeds) == len(variant) and len(ref_seeds) == len(reference)
    return unique and seeds == ref_seeds


def _finite_or_tie(values: np.ndarray) -> np.ndarray:
    """`inf - inf` (both sides diverged) as 0, a tie; infinities kept."""
    return np.nan_to_num(values, nan=0.0, posinf=np.inf, neginf=-np.inf)


def _middle(samples: np.ndarray) -> np.ndarray:
    """Row medians where a +inf and a -inf in the middle (both sides diverged) count as 0."""
    with np.errstate(invalid="ignore"):
        return _finite_or_tie(np.median(samples, axis=-1))


def _interval(
    interval: Interval, boot: np.ndarray, estimate: float, jackknife: list[np.ndarray]
) -> tuple[float, float]:
    """The CI bounds, as order statistics of the bootstrapped effects `boot`."""
    return order_bounds(boot, *quantile_levels(interval, boot, estimate, jackknife))


def compare_pair(
    variant: Outcomes,
    reference: Outcomes,
    sign: int,
    rng: np.random.Generator,
    resamples: int,
    interval: Interval,
) -> dict:
    """The statistics of one comparison (see the module docstring); {} when untestable."""
    if is_paired(variant, reference):
        if len(variant) < 2:
            return {}
        with np.errstate(invalid="ignore"):  # both diverged: inf - inf, a tie (0 below)
            differences = variant.by_seed() - reference.by_seed()
        differences = _finite_or_tie(differences)
        picks = rng.integers(0, len(differences), (resamples, len(differences)))
        difference = float(_middle(differences))
        jackknife = [_middle(leave_one_out(differences))] if interval == "bca" else []
        low, high = _interval(interval, _middle(differences[picks]), difference, jackknife)
        gain = sign * differences
        finite = differences[np.isfinite(differences)]
        return {
            "analysis": "paired",
            "pairs": len(differences),
            "difference": difference,
            "ci_low": low,
            "ci_high": high,
            "p_improvement": float(np.mean((gain > 0) + 0.5 * (gain == 0))),
            "p_value": signed_rank_pvalue(differences),
            "floor": paired_floor(len(differences)),
            "spread": float(np.std(finite, ddof=1)) if len(finite) >= 2 else math.nan,
        }
    x, y = variant.values, reference.values
    if min(len(x), len(y)) < 2:
        return {}
    bx = _middle(x[rng.integers(0, len(x), (resamples, len(x)))])
    by = _middle(y[rng.integers(0, len(y), (resamples, len(y)))])
    with np.errstate(invalid="ignore"):
        boot = _finite_or_tie(bx - by)
        difference = float(np.nan_to_num(_middle(x) - _middle(y), nan=0.0))
        jackknife = []
        if interval == "bca":
            jackknife = [
                _finite_or_tie(_middle(leave_one_out(x)) - _middle(y)),
                _finite_or_tie(_middle(x) - _middle(leave_one_out(y))),
            ]
    low, high = _interval(interval, boot, difference, jackknife)
    return {
        "analysis": "unpaired",
        "pairs": 0,
        "difference": difference,
        "ci_low": low,
        "ci_high": high,
        "p_improvement": prob_improvement(x, y, sign),
        "p_value": permutation_pvalue(x, y),
        "floor": unpaired_floor(len(x), len(y)),
        "spread": _pooled_sd(x[np.isfinite(x)], y[np.isfinite(y)]),
    }


def _pooled_sd(x: np.ndarray, y: np.ndarray) -> float:
    if min(len(x), len(y)) < 2:
        return math.nan
    pooled = ((len(x) - 1) * np.var(x, ddof=1) + (len(y) - 1) * np.var(y, ddof=1)) / (
        len(x) + len(y) - 2
    )
    return float(np.sqrt(pooled))


def divergence_pvalue(variant: Outcomes, reference: Outcomes) -> float:
    """Fisher's exact test (two-sided) of the failure rates of the two sides; 1 if none failed."""
    failed, ref_failed = int(variant.failed.sum()), int(reference.failed.sum())
    if failed + ref_failed == 0:
        return 1.0
    table = [[failed, len(variant) - failed], [ref_failed, len(reference) - ref_failed]]
    return float(fisher_exact(table).pvalue)
