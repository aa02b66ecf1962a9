"""The rank-sum permutation test against `scipy.stats.permutation_test` on the same data:
exact where every split is enumerated, within Monte Carlo error beyond."""

import math

import numpy as np
import pytest
from scipy import stats

from bench.stats.ranktests import EXACT_SPLITS, PERMUTATIONS, permutation_pvalue


def rank_sum_distance(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """|rank sum of x - its null mean|, midranks of the pooled values (as ours)."""
    pooled = np.concatenate([x, y], axis=axis)
    ranks = stats.rankdata(pooled, axis=axis)
    n_x, total = x.shape[axis], pooled.shape[axis]
    return np.abs(ranks[..., :n_x].sum(axis=axis) - n_x * (total + 1) / 2)


def scipy_pvalue(x: np.ndarray, y: np.ndarray, resamples: float = np.inf) -> float:
    return stats.permutation_test(
        (x, y),
        rank_sum_distance,
        permutation_type="independent",
        alternative="greater",
        n_resamples=resamples,
        vectorized=True,
        rng=np.random.default_rng(0),
    ).pvalue


@pytest.mark.parametrize(("n_x", "n_y"), [(4, 5), (6, 6), (7, 8)])
def test_exact_rank_sum_pvalue_equals_scipy_permutation_test_with_ties(n_x: int, n_y: int) -> None:
    rng = np.random.default_rng(n_x * 10 + n_y)
    for _ in range(5):
        x = rng.integers(0, 6, n_x).astype(float)  # few distinct values: many ties
        y = rng.integers(1, 7, n_y).astype(float)
        assert permutation_pvalue(x, y) == pytest.approx(scipy_pvalue(x, y), rel=1e-12)


def test_monte_carlo_rank_sum_pvalue_is_within_its_error_of_scipys() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(0.6, 1, 12), rng.normal(0, 1, 12)
    assert math.comb(24, 12) > EXACT_SPLITS  # ours samples splits
    ours, theirs = permutation_pvalue(x, y), scipy_pvalue(x, y, 40_000)
    error = 4 * np.sqrt(theirs * (1 - theirs) / PERMUTATIONS)
    assert abs(ours - theirs) < error
