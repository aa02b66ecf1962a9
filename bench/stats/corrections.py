"""Multiple-comparison corrections: Holm (1979) and Benjamini-Hochberg (1995) adjusted p-values."""

from __future__ import annotations

from typing import Literal

import numpy as np

from bench.errors import ResultsError

ALPHA = 0.05  # the level every verdict is tested at, after the correction
Correction = Literal["holm", "bh"]
CORRECTIONS: dict[str, str] = {"holm": "Holm-Bonferroni", "bh": "Benjamini-Hochberg"}


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given): family-wise error control."""
    pvalues = np.asarray(pvalues, dtype=float)
    m = len(pvalues)
    order = np.argsort(pvalues)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * pvalues[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values (same order): false discovery rate control."""
    pvalues = np.asarray(pvalues, dtype=float)
    m = len(pvalues)
    order = np.argsort(pvalues)
    scaled = pvalues[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return out


def adjust(pvalues: np.ndarray, correction: Correction = "holm") -> np.ndarray:
    """`pvalues` corrected for multiple comparisons by `correction` ("holm" or "bh")."""
    if correction not in CORRECTIONS:
        raise ResultsError(f"correction '{correction}': expected one of {', '.join(CORRECTIONS)}")
    if not len(pvalues):
        return np.asarray(pvalues, dtype=float)
    return holm(pvalues) if correction == "holm" else benjamini_hochberg(pvalues)
