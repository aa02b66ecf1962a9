"""Holm's step-down procedure against its textbook statement, Benjamini-Hochberg against scipy."""

import numpy as np
import pytest
from scipy import stats

from bench.errors import ResultsError
from bench.stats.corrections import adjust, benjamini_hochberg, holm


def textbook_holm(pvalues: list[float]) -> list[float]:
    """Holm (1979): sorted p(1) <= ... <= p(m), adjusted p(i) = max over j <= i of
    min(1, (m - j + 1) p(j)), written as loops."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order, start=1):
        running = max(running, min(1.0, (m - rank + 1) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def textbook_holm_rejections(pvalues: list[float], alpha: float) -> list[bool]:
    """Reject in order of p while p(i) <= alpha / (m - i + 1); stop at the first that fails."""
    m = len(pvalues)
    rejected = [False] * m
    for rank, index in enumerate(sorted(range(m), key=lambda i: pvalues[i]), start=1):
        if pvalues[index] > alpha / (m - rank + 1):
            break
        rejected[index] = True
    return rejected


@pytest.mark.parametrize("m", [1, 2, 5, 12])
def test_holm_equals_the_textbook_step_down_procedure(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(50):
        pvalues = rng.beta(0.3, 1.0, m).round(3)  # many small ones, and ties from rounding
        adjusted = holm(pvalues)
        np.testing.assert_allclose(adjusted, textbook_holm(list(pvalues)))
        for alpha in (0.01, 0.05, 0.1):
            expected = textbook_holm_rejections(list(pvalues), alpha)
            assert list(adjusted <= alpha) == expected


def test_benjamini_hochberg_equals_scipy_on_random_pvalues() -> None:
    rng = np.random.default_rng(3)
    for m in (1, 3, 12):
        pvalues = rng.beta(0.3, 1.0, m)
        expected = stats.false_discovery_control(pvalues, method="bh")
        np.testing.assert_allclose(benjamini_hochberg(pvalues), expected)


def test_adjust_names_the_allowed_corrections() -> None:
    with pytest.raises(ResultsError, match="correction 'bonferroni': expected one of holm, bh"):
        adjust(np.array([0.01]), "bonferroni")
