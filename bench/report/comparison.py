"""One variant against the reference on one metric: paired where the seeds pair, else unpaired.

Outcomes: a job that finished with the metric is its value; a job that diverged or failed
(any status but ok and pruned, or ok without any finite metric) is an outcome too, worse than
any finished value: it enters as an infinitely bad value, so rank tests place it last (ties
among failures) and medians may be infinite. Pruned tuning trials, and jobs that simply did
not record this metric, are left out.

- Paired (the seeds were run as blocks: `paired_seeds`): on the seeds both sides have,
  per-seed differences d = variant - reference, the exact signed-rank test
  (`ranktests.signed_rank_pvalue`), the median of d as the effect with a bootstrap 95% CI
  over seeds (pairs resampled together; percentile or BCa, see `bench.stats.bootstrap`), and
  P(improvement) = the share of seeds where the variant did better (ties half). Seeds on one
  side only (a job not finished yet) are left out of the pairing and listed.
- Unpaired (seed sets that were not run as blocks, e.g. disjoint): the exact (or Monte Carlo)
  rank-sum permutation test, the difference in medians with a bootstrap CI (each side
  resampled alone), and P(improvement) = the chance that a random variant seed beats a random
  reference seed.
- Equivalence, given a margin: two one-sided tests (Schuirmann 1987) with the same exact test
  shifted by -/+ the margin, and the bootstrap CI at level 1 - 2 alpha. Seeds where both sides
  failed say nothing about the size of an effect and are left out of the paired equivalence
  test; a seed where one side failed counts against equivalence.
- CI bounds are order statistics of the bootstrap values, without interpolation, so infinite
  bounds stay infinite. The resampling is seeded from the data (`data_rng`).
- Spread, for the detectable effect: the SD of the finite paired differences, or the pooled SD
  of the finished values of both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from bench.stats.bootstrap import (
    LEVEL,
    Interval,
    data_rng,
    leave_one_out,
    order_bounds,
    quantile_levels,
)
from bench.stats.corrections import ALPHA
from bench.stats.power import unpaired_floor
from bench.stats.ranktests import (
    equivalence_permutation_pvalue,
    equivalence_pvalue,
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

    def on(self, seeds: np.ndarray) -> Outcomes:
        """The outcomes of `seeds`, a subset of this side's seeds."""
        if len(seeds) == len(self.seeds):  # `seeds` are taken from this side: all of them
            return self
        keep = np.isin(self.seeds, seeds)
        return Outcomes(self.seeds[keep], self.values[keep], self.failed[keep])


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


def paired_seeds(variant: Outcomes, reference: Outcomes) -> np.ndarray | None:
    """The seeds to pair on: those both sides have, sorted; None when the design is unpaired.

    Paired when each side has each seed once, at least 2 seeds are shared, and the shared
    seeds are at least half of each side's: seeds missing on one side (not finished yet,
    crashed) leave the rest paired. Disjoint or mostly different seed sets are unpaired.
    """
    seeds, ref_seeds = set(variant.seeds.tolist()), set(reference.seeds.tolist())
    if len(seeds) != len(variant) or len(ref_seeds) != len(reference):
        return None
    shared = seeds & ref_seeds
    if len(shared) < 2 or 2 * len(shared) < max(len(seeds), len(ref_seeds)):
        return None
    return np.array(sorted(shared))


def is_paired(variant: Outcomes, reference: Outcomes) -> bool:
    """The comparison pairs seeds (on the seeds both sides have, `paired_seeds`)."""
    return paired_seeds(variant, reference) is not None


def _finite_or_tie(values: np.ndarray) -> np.ndarray:
    """`inf - inf` (both sides diverged) as 0, a tie; infinities kept."""
    return np.nan_to_num(values, nan=0.0, posinf=np.inf, neginf=-np.inf)


def _middle(samples: np.ndarray) -> np.ndarray:
    """Row medians where a +inf and a -inf in the middle (both sides diverged) count as 0."""
    with np.errstate(invalid="ignore"):
        return _finite_or_tie(np.median(samples, axis=-1))


def _interval(
    interval: Interval,
    boot: np.ndarray,
    estimate: float,
    jackknife: list[np.ndarray],
    level: float = LEVEL,
) -> tuple[float, float]:
    """The CI bounds, as order statistics of the bootstrapped effects `boot`."""
    return order_bounds(boot, *quantile_levels(interval, boot, estimate, jackknife, level))


def compare_pair(
    variant: Outcomes,
    reference: Outcomes,
    sign: int,
    rng: np.random.Generator | int,
    resamples: int,
    interval: Interval,
    margin: float | None = None,
    alpha: float = ALPHA,
) -> dict:
    """The statistics of one comparison (see the module docstring); {} when untestable.

    `rng`: the bootstrap's random stream, or an int seed from which, with the data, it is
    drawn (`data_rng`: the same numbers always give the same interval). `margin` (metric
    units; None: no equivalence test) and `alpha` give the equivalence test and its CI.
    """
    shared = paired_seeds(variant, reference)
    if shared is not None:
        return _paired(variant, reference, shared, sign, rng, resamples, interval, margin, alpha)
    x, y = variant.by_seed(), reference.by_seed()
    if min(len(x), len(y)) < 2:
        return {}
    rng = data_rng(rng, x, y) if isinstance(rng, int) else rng
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
    row = {
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
    if margin is not None:
        eq_low, eq_high = _interval(interval, boot, difference, jackknife, 1 - 2 * alpha)
        row |= {
            "eq_ci_low": eq_low,
            "eq_ci_high": eq_high,
            "equivalence_p": equivalence_permutation_pvalue(x, y, margin),
        }
    return row


def _paired(
    variant: Outcomes,
    reference: Outcomes,
    shared: np.ndarray,
    sign: int,
    rng: np.random.Generator | int,
    resamples: int,
    interval: Interval,
    margin: float | None,
    alpha: float,
) -> dict:
    """`compare_pair` on the seeds both sides have (`shared`)."""
    mine, ref = variant.on(shared), reference.on(shared)
    with np.errstate(invalid="ignore"):  # both diverged: inf - inf, a tie (0 below)
        differences = mine.by_seed() - ref.by_seed()
    differences = _finite_or_tie(differences)
    rng = data_rng(rng, differences) if isinstance(rng, int) else rng
    picks = rng.integers(0, len(differences), (resamples, len(differences)))
    difference = float(_middle(differences))
    jackknife = [_middle(leave_one_out(differences))] if interval == "bca" else []
    boot = _middle(differences[picks])
    low, high = _interval(interval, boot, difference, jackknife)
    gain = sign * differences
    finite = differences[np.isfinite(differences)]
    row = {
        "analysis": "paired",
        "pairs": len(differences),
        "only_reference": sorted(set(reference.seeds.tolist()) - set(shared.tolist())),
        "only_variant": sorted(set(variant.seeds.tolist()) - set(shared.tolist())),
        "difference": difference,
        "ci_low": low,
        "ci_high": high,
        "p_improvement": float(np.mean((gain > 0) + 0.5 * (gain == 0))),
        "p_value": signed_rank_pvalue(differences),
        "floor": paired_floor(len(differences)),
        "spread": float(np.std(finite, ddof=1)) if len(finite) >= 2 else math.nan,
    }
    if margin is not None:
        both_failed = mine.failed[np.argsort(mine.seeds)] & ref.failed[np.argsort(ref.seeds)]
        informative = differences[~both_failed]
        eq_low, eq_high = _interval(interval, boot, difference, jackknife, 1 - 2 * alpha)
        row |= {
            "eq_ci_low": eq_low,
            "eq_ci_high": eq_high,
            "equivalence_p": (
                equivalence_pvalue(informative, margin) if len(informative) else math.nan
            ),
        }
    return row


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
