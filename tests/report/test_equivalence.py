"""Equivalence (two one-sided tests against a margin) and the four verdicts: a tight null reads
"equivalent", a wide one "undecided" with the seeds that would decide it, and at an effect
equal to the margin "equivalent" is wrong at most 5% of the time."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.report.comparison import Outcomes, compare_pair
from bench.report.verdicts import VERDICTS, compare_variants, decide
from bench.stats.corrections import holm
from bench.stats.power import equivalence_seeds, seeds_needed, seeds_to_decide
from bench.stats.ranktests import equivalence_pvalue

REPO = Path(__file__).resolve().parents[2]


def paired_jobs(values: dict[str, np.ndarray], **statuses) -> pd.DataFrame:
    rows = []
    for variant, draws in values.items():
        for seed, value in enumerate(draws):
            status = statuses.get(variant, {}).get(seed, "ok")
            fid = value if status == "ok" else np.nan
            rows.append({"variant": variant, "seed": seed, "status": status, "fid": fid})
    return pd.DataFrame(rows)


def planted_null(spread: float, seeds: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """A variant that does nothing: per-seed differences Normal(0, spread), seeds correlated."""
    rng = np.random.default_rng(seed)
    base = rng.normal(20, 3, seeds)
    return {"baseline": base, "placebo": base + rng.normal(0, spread, seeds)}


def row_of(table: pd.DataFrame, variant: str = "placebo") -> pd.Series:
    return table.set_index("variant").loc[variant]


def test_a_planted_null_with_tight_spread_reads_equivalent() -> None:
    row = row_of(compare_variants(paired_jobs(planted_null(0.2)), "baseline", margin=1.0))
    assert row["verdict"] == "equivalent"
    assert -1.0 < row["eq_ci_low"] <= row["eq_ci_high"] < 1.0
    assert row["equivalence_p_adjusted"] < 0.05
    assert "equivalent within ±1 FID: two one-sided tests" in row["reason"]
    assert "90% CI [" in row["reason"] and np.isnan(row["seeds_to_decide"])


def test_a_planted_null_with_wide_spread_reads_undecided_with_the_seeds_to_decide_it() -> None:
    row = row_of(compare_variants(paired_jobs(planted_null(3.0)), "baseline", margin=1.0))
    assert row["verdict"] == "undecided"
    assert "not shown equivalent within ±1 FID" in row["reason"]
    spread = np.std(np.diff(list(planted_null(3.0).values()), axis=0), ddof=1)
    needed = seeds_to_decide(spread, 1.0, 1, 0.05)
    assert needed is not None and needed > 10
    assert row["seeds_to_decide"] == needed
    both = (seeds_needed(spread, 1.0, 1, 0.05), equivalence_seeds(spread, 1.0, 1, 0.05))
    assert needed == max(both)
    assert f"about {needed} paired seeds would have 80% power" in row["reason"]


def test_the_seeds_to_decide_give_the_promised_power_to_show_equivalence() -> None:
    """At the planned seed count, a null effect reads equivalent in about 80% of draws."""
    needed = equivalence_seeds(1.0, 1.0, 1, 0.05)
    rng = np.random.default_rng(3)
    draws = rng.normal(0, 1, (1500, needed))
    shown = np.mean([equivalence_pvalue(d, 1.0) < 0.05 for d in draws])
    assert shown >= 0.76
    fewer = np.mean([equivalence_pvalue(d[:-1], 1.0) < 0.05 for d in draws])
    assert fewer <= 0.83  # the fewest seeds that do it


def test_without_a_margin_equivalent_is_unreachable_and_the_reason_says_so() -> None:
    row = row_of(compare_variants(paired_jobs(planted_null(0.01)), "baseline"))
    assert row["verdict"] == "undecided"
    assert "no equivalence margin for FID, so 'equivalent' is unreachable" in row["reason"]
    assert "the CI rules out effects larger than" in row["reason"]


def test_a_significant_but_negligible_effect_is_equivalent_and_says_it_is_significant() -> None:
    values = planted_null(0.05)
    values["placebo"] = values["baseline"] + 0.3 + np.linspace(-0.05, 0.05, 10)
    row = row_of(compare_variants(paired_jobs(values), "baseline", margin=1.0))
    assert row["p_adjusted"] < 0.05 and row["verdict"] == "equivalent"
    assert "the difference is significant (adjusted p = " in row["reason"]
    assert row_of(compare_variants(paired_jobs(values), "baseline"))["verdict"] == "hurts"


def test_the_equivalence_test_is_two_one_sided_exact_signed_rank_tests() -> None:
    rng = np.random.default_rng(5)
    for _ in range(10):
        d = rng.normal(0.2, 0.5, 9)
        above = stats.wilcoxon(d + 1.0, alternative="greater", method="exact").pvalue
        below = stats.wilcoxon(d - 1.0, alternative="less", method="exact").pvalue
        assert equivalence_pvalue(d, 1.0) == pytest.approx(max(above, below), rel=1e-12)


def test_equivalence_p_values_take_the_suite_correction() -> None:
    rng = np.random.default_rng(6)
    base = rng.normal(20, 3, 10)
    values = {"baseline": base} | {f"v{i}": base + rng.normal(0, 0.4, 10) for i in range(3)}
    table = compare_variants(paired_jobs(values), "baseline", margin=1.0)
    tested = table["equivalence_p"].notna()
    np.testing.assert_allclose(
        table.loc[tested, "equivalence_p_adjusted"], holm(table.loc[tested, "equivalence_p"])
    )
    assert table.attrs["margin"] == 1.0


def test_failed_seeds_count_against_equivalence_and_double_failures_say_nothing() -> None:
    values = planted_null(0.1, seeds=8)
    one_failure = paired_jobs(values, placebo={7: "diverged"})
    row = row_of(compare_variants(one_failure, "baseline", margin=1.0))
    # one seed infinitely worse: the best one-sided p is 30/256 at 8 seeds, never below 0.05
    assert row["verdict"] == "undecided" and row["equivalence_p"] > 0.05
    both = paired_jobs(values, placebo={7: "diverged"}, baseline={7: "diverged"})
    row = row_of(compare_variants(both, "baseline", margin=1.0))
    finished = values["placebo"][:7] - values["baseline"][:7]
    assert row["equivalence_p"] == pytest.approx(equivalence_pvalue(finished, 1.0))
    assert row["verdict"] == "equivalent"


def test_decide_is_the_one_rule_for_every_caller() -> None:
    assert decide(0.01, (-3.0, -1.0), sign=-1) == "helps"
    assert decide(0.01, (1.0, 3.0), sign=-1) == "hurts"
    assert decide(0.01, (1.0, 3.0), sign=1) == "helps"
    assert decide(0.2, (-1.0, 3.0), sign=-1) == "undecided"
    inside = {"margin": 1.0, "equivalence_p_adjusted": 0.01, "equivalence_ci": (-0.5, 0.5)}
    assert decide(0.2, (-0.6, 0.6), -1, **inside) == "equivalent"
    assert decide(0.2, (-0.6, 0.6), -1, **inside | {"equivalence_ci": (-0.5, 1.0)}) == "undecided"
    assert decide(0.2, (-0.6, 0.6), -1, **inside, divergence_p_adjusted=0.01) == "undecided"
    assert decide(np.nan, (np.nan, np.nan), -1, **inside | {"margin": None}) == "undecided"


def test_false_equivalent_rate_at_an_effect_equal_to_the_margin_is_at_most_five_percent() -> None:
    """1,000 comparisons whose true effect is exactly the margin (half +, half -), through the
    report's own comparison and verdict; normal or heavy-tailed per-seed differences."""
    rng = np.random.default_rng(19)
    seeds, margin, draws = 8, 1.0, 1000
    shapes = rng.standard_normal((draws, seeds)) * 0.4
    shapes[draws // 2 :] = rng.standard_t(3, (draws - draws // 2, seeds)) * 0.3
    truth = np.where(np.arange(draws) % 2, margin, -margin)[:, None]
    reference = Outcomes(np.arange(seeds), np.zeros(seeds), np.zeros(seeds, bool))
    wrong = 0
    for i, differences in enumerate(shapes + truth):
        variant = Outcomes(np.arange(seeds), differences, np.zeros(seeds, bool))
        row = compare_pair(variant, reference, -1, i, 200, "percentile", margin)
        verdict = decide(
            row["p_value"],
            (row["ci_low"], row["ci_high"]),
            -1,
            margin=margin,
            equivalence_p_adjusted=row["equivalence_p"],
            equivalence_ci=(row["eq_ci_low"], row["eq_ci_high"]),
        )
        wrong += verdict == "equivalent"
    assert wrong / draws <= 0.05


def test_no_evidence_is_retired_as_a_verdict_word() -> None:
    values = planted_null(3.0) | {"good": planted_null(3.0)["baseline"] - 30}
    table = compare_variants(paired_jobs(values), "baseline", margin=1.0)
    assert set(table["verdict"]) <= {*VERDICTS, "reference"}
    assert "no evidence" not in " ".join(table["reason"])
    sources = [*(REPO / "bench").rglob("*.py"), *(REPO / "bench").rglob("*.html")]
    sources += [REPO / "docs" / "statistics.md"]
    for path in sources:
        assert "no evidence" not in path.read_text().lower(), path
