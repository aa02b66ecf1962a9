"""Seeds are paired: the signed-rank test on per-seed differences, cross-checked with scipy;
divergence as an outcome; Holm and Benjamini-Hochberg; what "undecided" rules out."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.report.verdicts import compare_variants
from bench.stats.corrections import adjust, benjamini_hochberg
from bench.stats.power import detectable_shift
from bench.stats.ranktests import paired_floor, permutation_pvalue, signed_rank_pvalue


def paired_jobs(values: dict[str, np.ndarray], metric: str = "fid", **by_variant) -> pd.DataFrame:
    """One job per variant and seed (seed = index); `status` per variant as a list if given."""
    rows = []
    for variant, draws in values.items():
        statuses = by_variant.get(variant, ["ok"] * len(draws))
        for seed, (value, status) in enumerate(zip(draws, statuses, strict=True)):
            shown = value if status == "ok" else np.nan
            rows.append({"variant": variant, "seed": seed, "status": status, metric: shown})
    return pd.DataFrame(rows)


def correlated_seeds(rng: np.random.Generator, shift: float, seeds: int = 8) -> dict:
    """The issue's shape: seeds differ a lot (SD 5), the variant tracks its seed closely."""
    seed_effect = rng.normal(50, 5, seeds)
    return {
        "baseline": seed_effect + rng.normal(0, 0.3, seeds),
        "minimax": seed_effect + shift + rng.normal(0, 0.3, seeds),
    }


@pytest.mark.parametrize("seeds", [5, 8, 11])
def test_signed_rank_pvalue_matches_scipy_exact_wilcoxon(seeds: int) -> None:
    rng = np.random.default_rng(seeds)
    for _ in range(20):
        x, y = rng.normal(0, 1, seeds), rng.normal(0.7, 1, seeds)
        expected = stats.wilcoxon(x, y, method="exact").pvalue
        assert signed_rank_pvalue(x - y) == pytest.approx(expected, rel=1e-12)


def test_signed_rank_pvalue_with_ties_and_zeros_matches_a_sign_flip_permutation_test() -> None:
    x = np.array([3.0, 1.0, 2.0, 2.0, 5.0, 4.0, 4.0, 7.0, 1.0])
    y = np.array([1.0, 1.0, 3.0, 0.0, 1.0, 2.0, 1.0, 1.0, 0.0])

    def signed_rank(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        d = a - b
        ranks = np.apply_along_axis(
            lambda row: pd.Series(np.abs(row[row != 0])).rank().sum(), axis, d
        )
        positive = np.apply_along_axis(
            lambda row: pd.Series(np.abs(row[row != 0])).rank()[row[row != 0] > 0].sum(), axis, d
        )
        return positive - ranks / 2

    exact = stats.permutation_test(
        (x, y), signed_rank, permutation_type="samples", n_resamples=np.inf, vectorized=True
    )
    assert signed_rank_pvalue(x - y) == pytest.approx(exact.pvalue, rel=1e-9)


def test_floor_of_the_exact_paired_test() -> None:
    assert paired_floor(5) == 0.0625
    assert signed_rank_pvalue(-np.arange(1.0, 6.0)) == pytest.approx(0.0625)
    assert signed_rank_pvalue(np.full(8, -np.inf)) == pytest.approx(2 / 2**8)


def test_issue_example_reads_paired_helps_where_unpaired_cannot() -> None:
    """Lower in 8 of 8 strongly correlated seeds: the paired test decides, the unpaired does not."""
    values = correlated_seeds(np.random.default_rng(0), shift=-1.0)
    assert np.corrcoef(values["baseline"], values["minimax"])[0, 1] > 0.95
    assert (values["minimax"] < values["baseline"]).all()
    row = compare_variants(paired_jobs(values), "baseline").set_index("variant").loc["minimax"]
    assert row["analysis"] == "paired, 8 seeds"
    assert row["p_value"] == pytest.approx(stats.wilcoxon(*values.values()).pvalue)
    assert row["verdict"] == "helps"
    assert row["ci_low"] <= row["difference"] <= row["ci_high"] < 0

    unpaired = paired_jobs(values)
    unpaired.loc[unpaired["variant"] == "minimax", "seed"] += 100  # different seed sets
    row = compare_variants(unpaired, "baseline").set_index("variant").loc["minimax"]
    assert row["analysis"] == "unpaired, 8 vs 8 seeds"
    assert row["p_value"] == pytest.approx(
        stats.mannwhitneyu(values["minimax"], values["baseline"], method="exact").pvalue
    )
    assert row["verdict"] == "undecided"


def test_a_diverged_seed_is_the_worst_difference_and_both_diverged_is_a_tie() -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(50, 1, 8)
    better = base - np.linspace(1, 2, 8)
    statuses = ["ok"] * 7 + ["diverged"]
    jobs = paired_jobs({"baseline": base, "fragile": better}, fragile=statuses)
    row = compare_variants(jobs, "baseline").set_index("variant").loc["fragile"]
    # the diverged seed is the largest difference, on the bad side: p as if it were +1000 FID
    stand_in = np.append((better - base)[:7], 1000.0)
    assert row["p_value"] == pytest.approx(signed_rank_pvalue(stand_in))
    assert (row["seeds"], row["scored"], row["diverged"]) == (8, 7, 1)
    assert "1/8 seeds diverged (ranked worse than any finished seed)" in row["reason"]

    both = paired_jobs({"baseline": base, "fragile": better}, fragile=statuses, baseline=statuses)
    row = compare_variants(both, "baseline").set_index("variant").loc["fragile"]
    assert row["p_value"] == pytest.approx(signed_rank_pvalue((better - base)[:7]))


def test_a_variant_that_always_diverges_hurts_and_its_failure_rate_is_tested() -> None:
    base = np.random.default_rng(5).normal(50, 1, 8)
    jobs = paired_jobs({"baseline": base, "unstable": base}, unstable=["diverged"] * 8)
    row = compare_variants(jobs, "baseline").set_index("variant").loc["unstable"]
    assert row["verdict"] == "hurts"
    assert row["ci_low"] == np.inf and "worse by at least a divergence" in row["reason"]
    expected = stats.fisher_exact([[8, 0], [0, 8]]).pvalue
    assert row["divergence_p"] == pytest.approx(expected)
    assert "fails more often than the reference (Fisher's exact test" in row["reason"]


def test_a_seed_without_a_finite_metric_is_a_failure_not_a_gap() -> None:
    base = np.random.default_rng(12).normal(50, 1, 8)
    values = {"baseline": base, "nan_output": base - 5}
    values["nan_output"][0] = np.nan  # status ok, but G's output was not finite: no metrics
    row = compare_variants(paired_jobs(values), "baseline").set_index("variant").loc["nan_output"]
    assert (row["scored"], row["diverged"], row["analysis"]) == (7, 1, "paired, 8 seeds")
    assert "1/8 seeds finished without a finite metric" in row["reason"]


def test_unpaired_divergence_ranks_below_every_finished_seed() -> None:
    jobs = paired_jobs({"baseline": np.arange(50.0, 58.0), "odd": np.arange(40.0, 46.0)})
    jobs.loc[jobs["variant"] == "odd", "seed"] += 100  # another run's seeds: not blocks
    jobs = pd.concat(
        [jobs, pd.DataFrame([{"variant": "odd", "seed": 109, "status": "diverged", "fid": 1.0}])]
    )
    row = compare_variants(jobs, "baseline").set_index("variant").loc["odd"]
    assert row["analysis"] == "unpaired, 7 vs 8 seeds"
    as_worst = permutation_pvalue(np.append(np.arange(40.0, 46.0), 1e9), np.arange(50.0, 58.0))
    assert row["p_value"] == pytest.approx(as_worst)


def test_benjamini_hochberg_matches_scipy_and_is_recorded() -> None:
    pvalues = np.array([0.01, 0.04, 0.03, 0.5, 0.002])
    expected = stats.false_discovery_control(pvalues, method="bh")
    np.testing.assert_allclose(benjamini_hochberg(pvalues), expected)
    np.testing.assert_allclose(adjust(pvalues, "bh"), expected)
    rng = np.random.default_rng(6)
    values = {"baseline": rng.normal(50, 1, 8), **{f"v{i}": rng.normal(45, 1, 8) for i in range(4)}}
    table = compare_variants(paired_jobs(values), "baseline", correction="bh")
    assert table.attrs["correction"] == "bh" and table.attrs["comparisons"] == 4
    tested = table["p_value"].notna()
    np.testing.assert_allclose(
        table.loc[tested, "p_adjusted"], stats.false_discovery_control(table.loc[tested, "p_value"])
    )


def test_placebo_is_called_helps_or_hurts_at_most_five_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    draws, decided = 200, 0
    for i in range(draws):
        seed_effect = rng.normal(50, 3, 6)
        values = {v: seed_effect + rng.normal(0, 1, 6) for v in ("baseline", "placebo")}
        table = compare_variants(paired_jobs(values), "baseline", resamples=200, seed=i)
        decided += table.loc[1, "verdict"] in ("helps", "hurts")
    assert decided / draws <= 0.05


def test_undecided_says_what_the_ci_rules_out_and_what_was_detectable() -> None:
    rng = np.random.default_rng(11)
    seed_effect = rng.normal(50, 5, 8)
    values = {"baseline": seed_effect + rng.normal(0, 1, 8)}
    values["same"] = seed_effect + rng.normal(0, 1, 8)
    row = compare_variants(paired_jobs(values), "baseline").set_index("variant").loc["same"]
    assert row["verdict"] == "undecided"
    assert row["rules_out"] == max(abs(row["ci_low"]), abs(row["ci_high"]))
    assert f"the CI rules out effects larger than {row['rules_out']:.3g} FID" in row["reason"]
    spread = np.std(values["same"] - values["baseline"], ddof=1)
    assert row["detectable"] == pytest.approx(spread * detectable_shift(8, 0.05))
    assert f"detects effects of {row['detectable']:.3g} FID or more" in row["reason"]


@pytest.mark.parametrize(("seeds", "level"), [(8, 0.05 / 3), (12, 0.05 / 7)])
def test_detectable_shift_has_80_percent_power_under_the_exact_test(
    seeds: int, level: float
) -> None:
    """Checked against the report's own p-value function on fresh draws."""
    shift = detectable_shift(seeds, level)
    rng = np.random.default_rng(seeds)

    def power(effect: float) -> float:
        draws = rng.normal(effect, 1, (1500, seeds))
        return np.mean([signed_rank_pvalue(d) < level for d in draws])

    assert 0.77 <= power(shift) <= 0.83
    assert power(0.75 * shift) < 0.7


def test_unpaired_detectable_shift_matches_the_rank_sum_test() -> None:
    shift = detectable_shift(8, 0.05, 8)
    rng = np.random.default_rng(9)
    hits = [
        permutation_pvalue(rng.normal(shift, 1, 8), rng.normal(0, 1, 8)) < 0.05 for _ in range(1000)
    ]
    assert 0.76 <= np.mean(hits) <= 0.84


def test_a_design_below_the_floor_can_detect_nothing() -> None:
    assert detectable_shift(5, 0.05) == np.inf
    values = correlated_seeds(np.random.default_rng(10), shift=-5.0, seeds=5)
    row = compare_variants(paired_jobs(values), "baseline").set_index("variant").loc["minimax"]
    assert row["verdict"] == "undecided"
    assert "the adjusted p cannot go below 0.062" in row["reason"]
    assert "no effect size is detectable with these seeds" in row["reason"]
