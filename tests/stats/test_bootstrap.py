"""The hand-written bootstrap intervals against `scipy.stats.bootstrap` on the same data.

Both are Monte Carlo: with 20,000 resamples each the bounds of a mean agree to 3% of the
interval's width. The bootstrap distribution of a median of few seeds is lumpy, so a bound
jumps between neighbouring support points from one random stream to the next (in scipy as
here, ~6% of the width): 8% for medians.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.errors import ResultsError
from bench.report.comparison import Outcomes, compare_pair
from bench.report.verdicts import compare_variants
from bench.stats.bootstrap import (
    acceleration,
    bootstrap_ci,
    bootstrap_mean_ci,
    expanded_level,
    leave_one_out,
    quantile_levels,
)

RESAMPLES = 20_000
MEDIAN_SHARE = 0.08
SCIPY_METHOD = {"percentile": "percentile", "bca": "BCa"}


def finished(values: np.ndarray, seeds: range) -> Outcomes:
    return Outcomes(np.asarray(seeds), np.asarray(values, float), np.zeros(len(values), bool))


def difference_of(reduce):
    return lambda x, y, axis: reduce(x, axis=axis) - reduce(y, axis=axis)


def scipy_interval(data: tuple, statistic, interval: str, level: float = 0.95) -> np.ndarray:
    result = stats.bootstrap(
        data,
        statistic,
        confidence_level=level,
        method=SCIPY_METHOD[interval],
        n_resamples=RESAMPLES,
        rng=np.random.default_rng(2),
    )
    return np.array([result.confidence_interval.low, result.confidence_interval.high])


def assert_close(ours: tuple[float, float], expected: np.ndarray, share: float) -> None:
    width = expected[1] - expected[0]
    np.testing.assert_allclose(ours, expected, atol=share * width)


def skewed_samples(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(0, 0.8, 10)), np.exp(rng.normal(0, 0.5, 9))


@pytest.mark.parametrize("interval", ["percentile", "bca"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_ci_matches_scipy(interval: str, seed: int) -> None:
    x, y = skewed_samples(seed)
    rng = np.random.default_rng(1)
    for statistic, reduce, share in (("mean", np.mean, 0.03), ("median", np.median, MEDIAN_SHARE)):
        ours = bootstrap_ci(x, y, rng, statistic, RESAMPLES, interval=interval)
        assert_close(ours, scipy_interval((x, y), difference_of(reduce), interval), share)


@pytest.mark.parametrize("interval", ["percentile", "bca"])
def test_comparison_intervals_match_scipy_paired_and_unpaired(interval: str) -> None:
    rng = np.random.default_rng(3)
    for _ in range(3):
        differences = rng.lognormal(0, 1, 9) - 1
        row = compare_pair(
            finished(differences, range(9)),
            finished(np.zeros(9), range(9)),
            -1,
            np.random.default_rng(1),
            RESAMPLES,
            interval,
        )
        expected = scipy_interval((differences,), np.median, interval)
        assert row["analysis"] == "paired"
        assert_close((row["ci_low"], row["ci_high"]), expected, MEDIAN_SHARE)
        x, y = np.exp(rng.normal(0, 0.8, 10)), np.exp(rng.normal(0, 0.5, 9))
        row = compare_pair(
            finished(x, range(10)), finished(y, range(20, 29)), -1, rng, RESAMPLES, interval
        )
        expected = scipy_interval((x, y), difference_of(np.median), interval)
        assert row["analysis"] == "unpaired"
        assert_close((row["ci_low"], row["ci_high"]), expected, MEDIAN_SHARE)


@pytest.mark.parametrize("interval", ["percentile", "bca"])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_paired_mean_interval_matches_scipy(interval: str, seed: int) -> None:
    differences = np.random.default_rng(seed).lognormal(0, 1, 8) - 1
    ours = bootstrap_mean_ci(differences, np.random.default_rng(1), RESAMPLES, interval=interval)
    level = expanded_level(0.95, len(differences))
    assert_close(ours, scipy_interval((differences,), np.mean, interval, level), 0.03)


def test_the_expanded_level_is_the_t_intervals_width() -> None:
    # n = 8: sqrt(8/7) * t(0.975, 7) = 1.0690 * 2.3646 = 2.5278 standard errors
    assert expanded_level(0.95, 8) == pytest.approx(1 - 2 * stats.norm.cdf(-2.5278), abs=1e-4)
    assert expanded_level(0.95, 1000) == pytest.approx(0.95, abs=1e-3)
    assert expanded_level(0.95, 1) == 0.95


def test_the_paired_mean_interval_covers_near_nominal_at_six_seeds() -> None:
    rng, hits, draws = np.random.default_rng(5), 0, 400
    for _ in range(draws):
        differences = rng.normal(1.0, 2.0, 6)
        low, high = bootstrap_mean_ci(differences, rng, 1000)
        hits += low <= 1.0 <= high
    assert 0.91 <= hits / draws <= 0.98  # the unexpanded percentile interval: 0.885 here


def test_bca_shifts_the_interval_of_a_skewed_mean_toward_the_long_tail() -> None:
    x, y = skewed_samples(0)
    percentile = bootstrap_ci(x, y, np.random.default_rng(1), "mean", RESAMPLES)
    bca = bootstrap_ci(x, y, np.random.default_rng(1), "mean", RESAMPLES, interval="bca")
    assert bca[0] > percentile[0] and bca[1] > percentile[1]


def test_acceleration_of_the_mean_is_the_textbook_skewness_term() -> None:
    """Efron & Tibshirani (1993), eq. 14.15: for the mean, a = sum(d^3) / (6 sum(d^2)^1.5)."""
    values = np.random.default_rng(4).exponential(1, 12)
    centred = values - values.mean()
    expected = (centred**3).sum() / (6 * (centred**2).sum() ** 1.5)
    assert acceleration([leave_one_out(values).mean(axis=1)]) == pytest.approx(expected)


def test_bca_without_bias_or_acceleration_is_the_percentile_interval() -> None:
    symmetric = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    levels = quantile_levels("bca", symmetric, 0.0, [np.array([1.0, 1.0])])
    assert levels == pytest.approx(quantile_levels("percentile", symmetric, 0.0, []))
    assert levels == pytest.approx((0.025, 0.975))


def test_bca_keeps_a_divergence_unbounded() -> None:
    """Every variant seed diverged: the jackknife is infinite, the acceleration 0, and the
    CI of the paired difference still starts at +inf."""
    rows = [
        {"variant": variant, "seed": seed, "status": status, "fid": 50.0 + seed}
        for seed in range(8)
        for variant, status in (("baseline", "ok"), ("unstable", "diverged"))
    ]
    table = compare_variants(pd.DataFrame(rows), "baseline", interval="bca")
    row = table.set_index("variant").loc["unstable"]
    assert row["ci_low"] == np.inf and row["verdict"] == "hurts"
    assert table.attrs["interval"] == "bca"
    assert acceleration([np.array([1.0, np.inf, 2.0])]) == 0.0


def test_an_unknown_interval_is_refused_with_the_allowed_names() -> None:
    rows = [{"variant": "baseline", "seed": 0, "status": "ok", "fid": 50.0}]
    with pytest.raises(
        ResultsError, match=r"interval 'studentized': expected one of percentile, bca"
    ):
        compare_variants(pd.DataFrame(rows), "baseline", interval="studentized")


@pytest.mark.parametrize("interval", ["percentile", "bca"])
def test_both_intervals_cover_a_skewed_paired_median_near_nominal(interval: str) -> None:
    """A short version of the docs/statistics.md simulation: 8 seeds, log-normal differences."""
    rng = np.random.default_rng(8)
    draws, covered = 300, 0
    for i in range(draws):
        differences = np.exp(rng.normal(0, 1, 8))
        row = compare_pair(
            finished(differences, range(8)),
            finished(np.zeros(8), range(8)),
            -1,
            np.random.default_rng(i),
            1000,
            interval,
        )
        covered += row["ci_low"] <= 1.0 <= row["ci_high"]
    assert 0.88 <= covered / draws <= 0.98
