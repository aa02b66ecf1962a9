"""Group-sequential decisions over stages of seeds: when a comparison is decided and stops.

A sequential suite runs its seeds in stages fixed in advance, n_1 < n_2 < ... < n_K seeds
(`[suite] seeds = { start, step, max }`). After each stage every comparison still open is
tested on its first n_k paired differences; a decided one gets no more seeds. The error rates
hold under this optional stopping by alpha spending (Lan & DeMets 1983) over the stages:

- Spending: stage k may spend the share w_k = (a(t_k) - a(t_{k-1})) / alpha of a level, where
  t_k = n_k / n_K and a is the O'Brien-Fleming-type function a(t) = 2 - 2 Phi(z_{1-alpha/2} /
  sqrt t) (the default: it spends almost nothing early, so the final stage keeps nearly the
  fixed design's power) or the Pocock-type a(t) = alpha ln(1 + (e - 1) t).
- Per comparison j, p_jk is the exact two-sided signed-rank p-value of its first n_k paired
  differences (`bench.stats.ranktests`), and its stage-weighted p-value is q_j = min_k p_jk /
  w_k over the stages it reached. Under the null P(q_j <= u) <= sum_k P(p_jk <= w_k u) <= u
  whatever the stopping (a union bound over stages; conservative for a discrete exact test,
  whose p-values are valid but not exact at each level), so q_j is a valid p-value.
- Holm's step-down (Holm 1979) on the q_j is the closed test of Bonferroni tests of them, so
  the family-wise error over all comparisons and stages is at most alpha, for any dependence
  between comparisons (they share the reference's seeds). The q_j only fall from stage to
  stage, so a rejection stays one. The direction (helps or hurts) is the sign of the
  signed-rank statistic at the stage that gave q_j.
- Equivalence (with a margin, in the metric's units): two one-sided tests (Schuirmann 1987)
  of the signed-rank statistic of d + margin (against a location below -margin) and of
  margin - d (against one above +margin); the larger one-sided p is the TOST p-value. It gets
  its own alpha, spent and Holm-corrected the same way (a false "equivalent" is a different
  error from a false "helps").
- A decision, once made, is final: the comparison stops; leaving later-possible rejections
  unmade only removes rejections, so the error bounds stay.

The functions are vectorised over leading axes (simulated suites) so that the placebo
simulation in the tests, and `benchmarks/sequential_power.py`, run the very code `bench run`
uses.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import norm

from bench.stats.corrections import ALPHA
from bench.stats.ranktests import _sum_distribution, _two_sided_pvalues, signed_ranks

Spending = Literal["obf", "pocock"]
SPENDINGS: dict[str, str] = {
    "obf": "O'Brien-Fleming-type (Lan-DeMets)",
    "pocock": "Pocock-type (Lan-DeMets)",
}
OPEN, LARGER, SMALLER, EQUIVALENT = 0, 1, 2, 3  # a comparison's outcome: the variant's values


def spent(fraction: float, spending: Spending = "obf", alpha: float = ALPHA) -> float:
    """The alpha spent by information fraction `fraction` (Lan & DeMets 1983)."""
    if fraction <= 0:
        return 0.0
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * min(fraction, 1.0))
    return float(2 - 2 * norm.cdf(norm.ppf(1 - alpha / 2) / math.sqrt(min(fraction, 1.0))))


def spending_weights(
    counts: Sequence[int], spending: Spending = "obf", alpha: float = ALPHA
) -> np.ndarray:
    """w_k: the share of a level stage k may spend; stages of `counts` seeds; sums to 1."""
    if spending not in SPENDINGS:
        raise ValueError(f"spending '{spending}': expected one of {', '.join(SPENDINGS)}")
    total = counts[-1]
    cumulative = np.array([spent(n / total, spending, alpha) for n in counts]) / alpha
    return np.diff(cumulative, prepend=0.0)


@functools.cache
def untied_tables(pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """For untied ranks 1..`pairs`, per value t of the positive rank sum T: the two-sided
    exact p-value and P(T >= t) under the null (every sign equally likely)."""
    null = _sum_distribution(np.arange(1, pairs + 1))
    two_sided = np.minimum(1.0, _two_sided_pvalues(null, pairs * (pairs + 1) / 4))
    upper = np.minimum(1.0, np.cumsum(null[::-1])[::-1])
    return two_sided, upper


def positive_rank_sums(differences: np.ndarray) -> np.ndarray:
    """The signed-rank statistic (sum of the ranks of |d| where d > 0) along the last axis;
    for untied, nonzero differences (simulated ones)."""
    ranks = np.argsort(np.argsort(np.abs(differences), axis=-1), axis=-1) + 1
    return (ranks * (differences > 0)).sum(axis=-1)


def untied_tests(
    differences: np.ndarray, margin: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(two-sided p, sign of the statistic, TOST p) along the last axis, from `untied_tables`:
    the same numbers as `stage_test` gives for untied differences, for many at once."""
    pairs = differences.shape[-1]
    two_sided, upper = untied_tables(pairs)
    statistic = positive_rank_sums(differences)
    sign = np.sign(statistic - pairs * (pairs + 1) / 4).astype(int)
    if margin is None:
        return two_sided[statistic], sign, np.ones(statistic.shape)
    above = upper[positive_rank_sums(differences + margin)]
    below = upper[positive_rank_sums(margin - differences)]
    return two_sided[statistic], sign, np.maximum(above, below)


def upper_pvalue(differences: np.ndarray) -> float:
    """Exact one-sided p-value P(T >= t) of the signed-rank statistic (midranks for ties,
    zeros dropped), against a location above 0."""
    doubled, positive = signed_ranks(np.asarray(differences, dtype=float))
    if not len(doubled):
        return 1.0
    null = _sum_distribution(doubled)
    observed = int(doubled[positive].sum())
    return float(min(1.0, null[observed:].sum()))


def stage_test(
    differences: np.ndarray, pvalue: float, margin: float | None = None
) -> tuple[int, float]:
    """(sign of the signed-rank statistic, TOST p-value) of one comparison's paired
    `differences` (±inf for failed seeds); `pvalue` is its two-sided exact p-value."""
    differences = np.asarray(differences, dtype=float)
    doubled, positive = signed_ranks(differences)
    sign = int(np.sign(doubled[positive].sum() - doubled.sum() / 2)) if len(doubled) else 0
    if margin is None:
        return sign, 1.0
    return sign, max(upper_pvalue(differences + margin), upper_pvalue(margin - differences))


def holm_adjusted(pvalues: np.ndarray) -> np.ndarray:
    """Holm's adjusted p-values along the last axis (`corrections.holm`, vectorised)."""
    m = pvalues.shape[-1]
    order = np.argsort(pvalues, axis=-1, kind="stable")
    ordered = np.take_along_axis(pvalues, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(1.0, np.maximum.accumulate(ordered, axis=-1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


@dataclass(frozen=True)
class Decisions:
    """The state of every comparison after some stages (arrays of shape (..., comparisons)).

    `q` / `q_equivalence`: the stage-weighted p-values of the test of no difference and of
    the equivalence test; `sign`: the statistic's sign at the stage that gave `q`;
    `outcome`: OPEN, LARGER, SMALLER (the variant's values are larger or smaller) or
    EQUIVALENT; `stage`: the stage that decided it (-1 while open); `adjusted` /
    `adjusted_equivalence`: Holm's adjusted `q` and `q_equivalence` after the last stage.
    """

    q: np.ndarray
    sign: np.ndarray
    q_equivalence: np.ndarray
    outcome: np.ndarray
    stage: np.ndarray
    adjusted: np.ndarray
    adjusted_equivalence: np.ndarray

    @classmethod
    def start(cls, shape: tuple[int, ...]) -> Decisions:
        """Before the first stage: everything open, nothing tested."""
        ones = np.ones(shape)
        return cls(
            ones * np.inf,
            np.zeros(shape, int),
            ones * np.inf,
            np.zeros(shape, int),
            np.full(shape, -1),
            ones,
            ones,
        )

    @property
    def open(self) -> np.ndarray:
        return self.outcome == OPEN


def decide_stage(
    state: Decisions,
    stage: int,
    weight: float,
    pvalue: np.ndarray,
    sign: np.ndarray,
    equivalence_pvalue: np.ndarray,
    alpha: float = ALPHA,
) -> Decisions:
    """The decisions after stage `stage` (0-based), whose spending share is `weight`.

    `pvalue`, `sign` and `equivalence_pvalue` are the stage's two-sided p-values, statistic
    signs and TOST p-values per comparison (shape of `state`); those of comparisons already
    decided are ignored (they ran no more seeds). A comparison is EQUIVALENT when its Holm-
    adjusted stage-weighted equivalence p is below `alpha`, else LARGER or SMALLER (by the
    sign) when the adjusted stage-weighted p of the difference is. Equivalence comes first,
    as in `bench.report.verdicts.decide`: an effect shown to lie inside the margin is one too
    small to matter, even where it is also shown to differ from 0.
    """
    open_ = state.open
    with np.errstate(divide="ignore"):
        weighted = np.where(weight > 0, pvalue / weight, np.inf)
        weighted_equivalence = np.where(weight > 0, equivalence_pvalue / weight, np.inf)
    better = open_ & (weighted < state.q)
    q = np.where(better, weighted, state.q)
    signs = np.where(better, sign, state.sign)
    q_equivalence = np.where(
        open_, np.minimum(state.q_equivalence, weighted_equivalence), state.q_equivalence
    )
    adjusted = holm_adjusted(np.minimum(q, 1e300))
    adjusted_equivalence = holm_adjusted(np.minimum(q_equivalence, 1e300))
    equivalent = open_ & (adjusted_equivalence < alpha)
    differs = open_ & ~equivalent & (adjusted < alpha) & (signs != 0)
    outcome = np.where(differs, np.where(signs > 0, LARGER, SMALLER), state.outcome)
    outcome = np.where(equivalent, EQUIVALENT, outcome)
    decided_now = differs | equivalent
    return Decisions(
        q,
        signs,
        q_equivalence,
        outcome,
        np.where(decided_now, stage, state.stage),
        adjusted,
        adjusted_equivalence,
    )


def stage_levels(
    counts: Sequence[int], comparisons: int, spending: Spending = "obf", alpha: float = ALPHA
) -> np.ndarray:
    """Per stage, the nominal level a lone effect's p-value must reach: w_k alpha / k."""
    return spending_weights(counts, spending, alpha) * alpha / max(comparisons, 1)


def first_reachable_stage(
    counts: Sequence[int], comparisons: int, spending: Spending = "obf", alpha: float = ALPHA
) -> int | None:
    """The first stage (0-based) whose nominal level is above the exact test's floor 2/2^n,
    i.e. where a lone effect can be decided; None when no stage can decide anything."""
    levels = stage_levels(counts, comparisons, spending, alpha)
    for stage, (n, level) in enumerate(zip(counts, levels, strict=True)):
        if 2 / 2**n < level:
            return stage
    return None


def simulate(
    differences: np.ndarray,
    counts: Sequence[int],
    margin: float | None = None,
    spending: Spending = "obf",
    alpha: float = ALPHA,
) -> Decisions:
    """Run the stopping rule on simulated paired differences, shape (suites, comparisons,
    max seeds), untied: each stage tests the first n_k of each comparison still open."""
    state = Decisions.start(differences.shape[:-1])
    for stage, (n, weight) in enumerate(
        zip(counts, spending_weights(counts, spending, alpha), strict=True)
    ):
        pvalue, sign, equivalence = untied_tests(differences[..., :n], margin)
        state = decide_stage(state, stage, weight, pvalue, sign, equivalence, alpha)
        if not state.open.any():
            break
    return state
