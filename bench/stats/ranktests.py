"""Exact rank tests over seeds: the paired signed-rank test and the null of the rank-sum test.

Seeds are blocks: every variant of one seed starts from the same RNG stream, so per-seed
results of two variants correlate, and the test that uses this is on the per-seed
differences. `signed_rank_pvalue` is Wilcoxon's signed-rank test (Wilcoxon 1945) with its
exact permutation distribution: under the null each difference is equally likely to have
either sign, so the 2^n sign flips are enumerated, by dynamic programming over the (mid)ranks
rather than one by one, which keeps it exact for any number of seeds and with ties. Pairs with
no difference are dropped (Wilcoxon's treatment of zeros); a diverged seed enters as an
infinitely bad value, so its difference ties with other diverged ones at the top rank.

Both tests also come one-sided, and as two one-sided tests against a margin (Schuirmann 1987;
Lakens 2017): `equivalence_pvalue` (paired) and `equivalence_permutation_pvalue` (unpaired)
shift the differences by -/+ the margin and take the larger one-sided p-value, so that an
effect inside the margin is shown with the same exact tests that show one outside zero.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Literal

import numpy as np
import pandas as pd

EXACT_SPLITS = 20_000
PERMUTATIONS = 10_000
Alternative = Literal["two-sided", "greater", "less"]


def prob_improvement(x: np.ndarray, y: np.ndarray, sign: int) -> float:
    """P(a seed of `x` beats a seed of `y`), ties counting half; `sign` as `Metric.direction`."""
    gain = sign * (x[:, None] - y[None, :])
    return float(np.mean((gain > 0) + 0.5 * (gain == 0)))


@functools.cache
def _splits(total: int, n: int) -> tuple[np.ndarray, bool]:
    """Index sets of size `n` out of `total`: all of them, or a fixed random sample; exact?"""
    if math.comb(total, n) <= EXACT_SPLITS:
        return np.array(list(itertools.combinations(range(total), n))), True
    rng = np.random.default_rng([total, n])
    return rng.permuted(np.tile(np.arange(total), (PERMUTATIONS, 1)), axis=1)[:, :n], False


def permutation_pvalue(
    x: np.ndarray, y: np.ndarray, alternative: Alternative = "two-sided"
) -> float:
    """Permutation p-value of the rank sum of `x` (midranks for ties).

    Two-sided by default; `greater` / `less`: one-sided, against `x` tending to be larger /
    smaller than `y`. Exact over every split when there are at most `EXACT_SPLITS`, else Monte
    Carlo over `PERMUTATIONS` fixed random splits (reused for every comparison of the same sizes).
    """
    pooled = np.concatenate([x, y])
    ranks = pd.Series(pooled).rank().to_numpy()
    centre = len(x) * (len(pooled) + 1) / 2
    chosen, exact = _splits(len(pooled), len(x))
    sums, observed = ranks[chosen].sum(axis=1), ranks[: len(x)].sum()
    if alternative == "greater":
        extreme = np.count_nonzero(sums >= observed - 1e-9)
    elif alternative == "less":
        extreme = np.count_nonzero(sums <= observed + 1e-9)
    else:
        extreme = np.count_nonzero(np.abs(sums - centre) >= abs(observed - centre) - 1e-9)
    return extreme / len(chosen) if exact else (extreme + 1) / (PERMUTATIONS + 1)


def _sum_distribution(weights: np.ndarray) -> np.ndarray:
    """P(sum of the `weights` whose fair coin came up heads = s), s = 0..sum(weights)."""
    probabilities = np.zeros(int(weights.sum()) + 1)
    probabilities[0] = 1.0
    reach = 0
    for weight in weights.astype(int):
        shifted = np.zeros_like(probabilities)
        shifted[weight : reach + weight + 1] = probabilities[: reach + 1]
        probabilities = 0.5 * (probabilities + shifted)
        reach += weight
    return probabilities


def doubled_midranks(values: np.ndarray) -> np.ndarray:
    """2 x the midranks of `values` (ties share their average rank), as integers; ±inf allowed.

    The same as `2 * scipy.stats.rankdata(values)`, without its overhead on a few seeds."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    doubled = np.empty(len(values), dtype=int)
    doubled[order] = np.repeat(starts + ends + 1, ends - starts)
    return doubled


def signed_ranks(differences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(doubled midranks of |d|, positive?) of the nonzero differences; ±inf allowed."""
    nonzero = differences[differences != 0]
    return doubled_midranks(np.abs(nonzero)), nonzero > 0


def signed_rank_pvalue(differences: np.ndarray) -> float:
    """Two-sided exact p-value of the signed-rank statistic of paired `differences`."""
    doubled, positive = signed_ranks(np.asarray(differences, dtype=float))
    if not len(doubled):
        return 1.0
    null = _sum_distribution(doubled)
    centre = doubled.sum() / 2
    observed = abs(doubled[positive].sum() - centre)
    extreme = np.abs(np.arange(len(null)) - centre) >= observed - 1e-9
    return float(min(1.0, null[extreme].sum()))


def signed_rank_one_sided(differences: np.ndarray, alternative: Alternative) -> float:
    """One-sided exact p-value of the signed-rank statistic: against a shift above 0
    (`greater`) or below 0 (`less`). Zeros are dropped, as in `signed_rank_pvalue`."""
    doubled, positive = signed_ranks(np.asarray(differences, dtype=float))
    if not len(doubled):
        return 1.0
    null = _sum_distribution(doubled)
    observed = int(doubled[positive].sum())
    tail = null[observed:] if alternative == "greater" else null[: observed + 1]
    return float(min(1.0, tail.sum()))


def equivalence_pvalue(differences: np.ndarray, margin: float) -> float:
    """Two one-sided tests (Schuirmann 1987) of paired `differences` against +/- `margin`.

    The larger of the exact signed-rank p-values against "shift <= -margin" (on d + margin)
    and against "shift >= margin" (on d - margin): below alpha, the shift lies inside the
    margin at level alpha. Infinite differences (a failed seed) count against equivalence.
    """
    differences = np.asarray(differences, dtype=float)
    above = signed_rank_one_sided(differences + margin, "greater")
    below = signed_rank_one_sided(differences - margin, "less")
    return max(above, below)


def equivalence_permutation_pvalue(x: np.ndarray, y: np.ndarray, margin: float) -> float:
    """Two one-sided rank-sum permutation tests of unpaired `x` - `y` against +/- `margin`."""
    above = permutation_pvalue(x + margin, y, "greater")
    below = permutation_pvalue(x - margin, y, "less")
    return max(above, below)


def paired_floor(pairs: int) -> float:
    """The smallest two-sided p-value the signed-rank test reaches with `pairs` seeds."""
    return min(1.0, 2 / 2**pairs) if pairs else 1.0


@functools.cache
def signed_rank_rejects(pairs: int, level: float) -> np.ndarray:
    """For untied ranks 1..`pairs`: whether each value of the positive rank sum has p < level."""
    null = _sum_distribution(np.arange(1, pairs + 1))
    return _two_sided_pvalues(null, pairs * (pairs + 1) / 4) < level


@functools.cache
def signed_rank_one_sided_rejects(pairs: int, level: float) -> np.ndarray:
    """For untied ranks 1..`pairs`: whether each value of the positive rank sum has a one-sided
    (`greater`) p < level; the `less` test rejects at value s where this does at the top - s."""
    null = _sum_distribution(np.arange(1, pairs + 1))
    return np.cumsum(null[::-1])[::-1] < level


@functools.cache
def rank_sum_rejects(n_x: int, n_y: int, level: float) -> np.ndarray:
    """For untied ranks: whether each value of x's rank sum has a two-sided exact p < level."""
    total = n_x + n_y
    # ways[j, s]: subsets of size j of the ranks seen so far with rank sum s
    top = total * (total + 1) // 2
    ways = np.zeros((n_x + 1, top + 1))
    ways[0, 0] = 1.0
    for rank in range(1, total + 1):
        ways[1:, rank:] = ways[1:, rank:] + ways[:-1, :-rank]
    null = ways[n_x] / ways[n_x].sum()
    return _two_sided_pvalues(null, n_x * (total + 1) / 2) < level


def _two_sided_pvalues(null: np.ndarray, centre: float) -> np.ndarray:
    """For each value s of a statistic with distribution `null`: P(|S - centre| >= |s - centre|)."""
    distance = np.abs(np.arange(len(null)) - centre)
    order = np.argsort(-distance, kind="stable")
    tail = np.cumsum(null[order])
    farthest_first = -distance[order]
    last = np.searchsorted(farthest_first, farthest_first + 1e-9, side="right") - 1
    pvalues = np.empty(len(null))
    pvalues[order] = tail[last]
    return pvalues
