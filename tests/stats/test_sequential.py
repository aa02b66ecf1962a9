"""The group-sequential stopping rule: spending, exact stage tests, Holm, and its error rates
under optional stopping, by simulation with the code `bench run` uses."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.stats.corrections import holm
from bench.stats.ranktests import signed_rank_pvalue
from bench.stats.sequential import (
    EQUIVALENT,
    LARGER,
    OPEN,
    SMALLER,
    Decisions,
    decide_stage,
    first_reachable_stage,
    holm_adjusted,
    simulate,
    spending_weights,
    stage_test,
    untied_tests,
    upper_pvalue,
)

COUNTS = (8, 12, 16, 20, 24, 28, 32)


@pytest.mark.parametrize("spending", ["obf", "pocock"])
def test_spending_weights_spend_exactly_alpha_and_obf_spends_little_early(spending):
    weights = spending_weights(COUNTS, spending)
    assert weights.sum() == pytest.approx(1.0)
    assert (weights > 0).all()
    if spending == "obf":  # Lan-DeMets O'Brien-Fleming: 2 - 2 Phi(1.96 / sqrt(0.25)) at t = 1/4
        assert weights[0] * 0.05 == pytest.approx(8.86e-5, rel=1e-2)
    else:
        assert weights[0] > weights[-1]


def test_the_vectorised_tests_equal_the_exact_tests_with_ties_on_untied_data():
    rng = np.random.default_rng(3)
    for n in (6, 9, 14):
        d = rng.standard_normal((20, n)) + 0.3
        pvalue, sign, equivalence = untied_tests(d, margin=0.4)
        for i in range(len(d)):
            assert pvalue[i] == pytest.approx(signed_rank_pvalue(d[i]), abs=1e-12)
            assert (sign[i], equivalence[i]) == pytest.approx(stage_test(d[i], pvalue[i], 0.4))


def test_one_sided_pvalue_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    d = np.array([0.3, -1.2, 2.2, 0.8, 1.1, -0.2, 0.9])
    expected = scipy_stats.wilcoxon(d, alternative="greater", method="exact").pvalue
    assert upper_pvalue(d) == pytest.approx(expected)


def test_the_vectorised_holm_equals_holm():
    rng = np.random.default_rng(4)
    q = rng.uniform(0, 0.2, (50, 5))
    assert np.allclose(holm_adjusted(q), np.array([holm(row) for row in q]))


def test_a_decision_is_final_and_a_decided_comparison_ignores_later_stages():
    state = Decisions.start((2,))
    weights = spending_weights((8, 16))
    state = decide_stage(state, 0, weights[0], np.array([1e-9, 0.5]), np.array([1, -1]), np.ones(2))
    assert state.outcome.tolist() == [LARGER, OPEN] and state.stage.tolist() == [0, -1]
    later = decide_stage(
        state, 1, weights[1], np.array([0.9, 1e-9]), np.array([-1, -1]), np.ones(2)
    )
    assert later.outcome.tolist() == [LARGER, SMALLER] and later.stage.tolist() == [0, 1]


def test_equivalence_is_decided_only_inside_the_margin():
    rng = np.random.default_rng(5)
    tight = rng.normal(0, 0.1, (1, 1, 32))
    assert simulate(tight, COUNTS, margin=1.0).outcome.item() == EQUIVALENT
    assert simulate(tight, COUNTS, margin=None).outcome.item() == OPEN


def test_an_effect_shown_both_nonzero_and_inside_the_margin_is_equivalent():
    """A small, consistent shift (0.2 in every seed, spread 0.02) differs from 0 and lies
    inside a margin of 1: too small to matter, so equivalent, as the fixed analysis says."""
    rng = np.random.default_rng(6)
    shift = 0.2 + rng.normal(0, 0.02, (1, 1, 32))
    state = simulate(shift, COUNTS, margin=1.0)
    assert state.outcome.item() == EQUIVALENT
    assert simulate(shift, COUNTS, margin=None).outcome.item() == LARGER


def test_a_design_whose_stages_cannot_reach_the_floor_has_no_decidable_stage():
    assert first_reachable_stage((3, 4, 5), 1) is None
    assert first_reachable_stage(COUNTS, 3) == 2  # 16 seeds: OBF spends too little before


def placebo_suites(rng: np.random.Generator, suites: int, comparisons: int) -> np.ndarray:
    """Paired differences of placebo variants against a shared reference, with a seed effect
    common to every variant of a seed and skewed (log-normal) job noise: no true effect."""
    seed_effect = rng.standard_normal((suites, 1, COUNTS[-1])) * 2
    reference = seed_effect[:, 0] + rng.lognormal(0, 0.5, (suites, COUNTS[-1]))
    variants = seed_effect + rng.lognormal(0, 0.5, (suites, comparisons, COUNTS[-1]))
    return variants - reference[:, None, :]


@pytest.mark.parametrize("spending", ["obf", "pocock"])
def test_the_family_wise_false_positive_rate_under_optional_stopping_is_at_most_5_percent(
    spending,
):
    """4,000 placebo suites of four variants each, stages of 8..32 seeds, with and without an
    equivalence margin (which stops comparisons early): any helps/hurts is a false one."""
    rng = np.random.default_rng(20_261_203)
    started = time.perf_counter()
    for margin in (None, 1.0):
        d = placebo_suites(rng, 4000, 4)
        state = simulate(d, COUNTS, margin=margin, spending=spending)
        false_positive = np.isin(state.outcome, (LARGER, SMALLER)).any(axis=1)
        assert false_positive.mean() <= 0.05, (margin, false_positive.mean())
        if margin is not None:
            assert (state.outcome == EQUIVALENT).mean() > 0.5  # most stop early, as they should
    assert time.perf_counter() - started < 20


def test_the_false_equivalence_rate_at_the_margin_is_at_most_5_percent():
    rng = np.random.default_rng(7)
    d = rng.standard_normal((4000, 1, COUNTS[-1])) + 1.0  # the true effect is the margin
    state = simulate(d, COUNTS, margin=1.0)
    assert (state.outcome == EQUIVALENT).mean() <= 0.05


def test_a_large_effect_is_decided_early_and_saves_seeds():
    rng = np.random.default_rng(8)
    d = rng.standard_normal((2000, 1, COUNTS[-1])) + 2.0
    state = simulate(d, COUNTS)
    assert (state.outcome == LARGER).mean() > 0.99
    assert np.array(COUNTS)[state.stage].mean() < 16
