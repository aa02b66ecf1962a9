import io
import json

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.config import load_suite
from bench.errors import ConfigError, ResultsError
from bench.report import headline_text
from bench.report.verdicts import compare_variants, interactions, main_effects
from bench.stats.bootstrap import bootstrap_ci
from bench.stats.corrections import holm
from bench.stats.ranktests import permutation_pvalue, prob_improvement


def jobs_frame(values: dict[str, list[float]], metric: str = "fid", **columns) -> pd.DataFrame:
    rows = [
        {"variant": variant, "seed": seed, "status": "ok", metric: value, **columns}
        for variant, draws in values.items()
        for seed, value in enumerate(draws)
    ]
    return pd.DataFrame(rows)


def planted(rng: np.random.Generator, shifts: dict[str, float], seeds: int = 8) -> pd.DataFrame:
    return jobs_frame({v: list(rng.normal(50 + s, 1.0, seeds)) for v, s in shifts.items()})


def verdicts(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["variant"], table["verdict"], strict=True))


def test_planted_improvement_helps_and_harm_hurts() -> None:
    jobs = planted(np.random.default_rng(1), {"baseline": 0, "good": -10, "bad": 10})
    table = compare_variants(jobs, "baseline", "fid")
    assert verdicts(table) == {"baseline": "reference", "bad": "hurts", "good": "helps"}
    good = table.set_index("variant").loc["good"]
    assert -12 < good["difference"] < -8
    assert good["ci_low"] < good["difference"] < good["ci_high"] < 0
    assert good["p_improvement"] == 1.0


def test_identical_distributions_without_a_margin_are_undecided() -> None:
    jobs = planted(np.random.default_rng(2), {"baseline": 0, "same": 0})
    row = compare_variants(jobs, "baseline").set_index("variant").loc["same"]
    assert row["verdict"] == "undecided"
    assert row["p_adjusted"] > 0.05
    assert "adjusted p" in row["reason"]


def test_higher_is_better_metric_flips_the_sign() -> None:
    base = [5.0, 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7]
    jobs = jobs_frame({"baseline": base, "up": [b + 3 for b in base]}, "isc")
    row = compare_variants(jobs, "baseline", "isc").set_index("variant").loc["up"]
    assert row["verdict"] == "helps"
    assert row["difference"] == pytest.approx(3.0)


def test_one_seed_is_undecided_and_says_why() -> None:
    jobs = jobs_frame({"baseline": [50.0, 51, 52], "lonely": [10.0]})
    row = compare_variants(jobs, "baseline").set_index("variant").loc["lonely"]
    assert row["verdict"] == "undecided"
    assert "fewer than 2 scored seeds" in row["reason"]
    assert np.isnan(row["p_value"])


def test_diverged_seeds_are_counted_not_scored() -> None:
    jobs = planted(np.random.default_rng(3), {"baseline": 0, "fragile": -10})
    jobs.loc[jobs.index[-2:], ["status", "fid"]] = ["diverged", np.nan]
    row = compare_variants(jobs, "baseline").set_index("variant").loc["fragile"]
    assert (row["seeds"], row["scored"], row["diverged"]) == (8, 6, 2)
    assert "2/8 seeds diverged" in row["reason"]


def test_few_seeds_cannot_reach_significance_and_the_reason_says_so() -> None:
    jobs = jobs_frame({"baseline": [50.0, 51, 52], "good": [10.0, 11, 12]})
    row = compare_variants(jobs, "baseline").set_index("variant").loc["good"]
    assert row["verdict"] == "undecided"
    assert "cannot go below" in row["reason"]


def test_prob_improvement_extremes() -> None:
    low, high = np.array([1.0, 2, 3]), np.array([10.0, 11, 12])
    assert prob_improvement(low, high, sign=-1) == 1.0
    assert prob_improvement(high, low, sign=-1) == 0.0
    assert prob_improvement(low, low, sign=-1) == 0.5
    assert prob_improvement(np.array([1.0, 3]), np.array([2.0]), sign=1) == 0.5


def test_permutation_pvalue_exact_and_monte_carlo() -> None:
    separated = permutation_pvalue(np.arange(5.0), np.arange(5.0) + 10)
    assert separated == pytest.approx(2 / 252)
    assert permutation_pvalue(np.ones(4), np.ones(4)) == 1.0
    assert permutation_pvalue(np.arange(20.0), np.arange(20.0) + 100) < 0.001
    rng = np.random.default_rng(0)
    null = permutation_pvalue(rng.normal(size=20), rng.normal(size=20))
    assert 0.01 < null <= 1


def test_holm_adjustment_known_values() -> None:
    adjusted = holm(np.array([0.01, 0.04, 0.03, 0.5]))
    np.testing.assert_allclose(adjusted, [0.04, 0.09, 0.09, 0.5])


def test_bootstrap_ci_covers_true_difference_at_about_nominal_rate() -> None:
    rng = np.random.default_rng(123)
    true_difference = -3.0
    covered = 0
    draws = 200
    for _ in range(draws):
        x = rng.normal(50 + true_difference, 2.0, 5)
        y = rng.normal(50, 2.0, 5)
        low, high = bootstrap_ci(x, y, rng)
        covered += low <= true_difference <= high
    assert 0.85 <= covered / draws <= 0.99


def test_mixed_provenance_is_refused() -> None:
    jobs = jobs_frame({"baseline": [50.0, 51], "other": [40.0, 41]})
    jobs["provenance.backbone"] = ["domain", "domain", "inception-v3-compat", "domain"]
    with pytest.raises(ResultsError, match=r"backbone.*inception-v3-compat in other"):
        compare_variants(jobs, "baseline")


def test_missing_reference_and_metric_are_refused() -> None:
    jobs = jobs_frame({"baseline": [50.0, 51]})
    with pytest.raises(ResultsError, match="reference variant 'all'"):
        compare_variants(jobs, "all")
    with pytest.raises(ResultsError, match="no job has metric 'kid'"):
        compare_variants(jobs, "baseline", "kid")


def grid_jobs() -> pd.DataFrame:
    """Two tricks: a lowers FID by 4, b by 2, and together 3 less than additive."""
    rows = []
    for a in ("off", "a"):
        for b in ("off", "b"):
            fid = 50 - 4 * (a != "off") - 2 * (b != "off") + 3 * (a != "off" and b != "off")
            for seed in range(3):
                rows.append(
                    {"variant": f"{a}+{b}", "seed": seed, "status": "ok", "fid": fid + seed}
                    | {"factor.a": a, "factor.b": b}
                )
    return pd.DataFrame(rows)


def test_grid_main_effects_and_interaction() -> None:
    jobs = grid_jobs()
    effects = main_effects(jobs).set_index("trick")
    assert effects.loc["a", "effect"] == pytest.approx(-4 + 3 / 2)
    assert effects.loc["b", "effect"] == pytest.approx(-2 + 3 / 2)
    assert effects.loc["a", "ci_low"] <= effects.loc["a", "effect"] <= effects.loc["a", "ci_high"]
    matrix = interactions(jobs)
    assert matrix.loc["a", "b"] == pytest.approx(3.0)
    assert matrix.loc["b", "a"] == pytest.approx(3.0)
    assert np.isnan(matrix.loc["a", "a"])


def test_the_report_names_its_interval_and_bench_report_chooses_it(results, capsys) -> None:
    results.planted("skewed", {"baseline": 50.0, "better": 45.0})
    folder = str(results.root)
    default = headline_text(folder, fmt="csv")
    assert set(pd.read_csv(io.StringIO(default))["interval"]) == {"percentile"}
    assert "CIs: percentile bootstrap, 95%." in headline_text(folder)
    assert main(["report", "--results", folder, "--format", "csv", "--interval", "bca"]) == 0
    assert set(pd.read_csv(io.StringIO(capsys.readouterr().out))["interval"]) == {"bca"}
    assert "CIs: BCa bootstrap" in headline_text(folder, interval="bca")
    with pytest.raises(SystemExit):
        main(["report", "--results", folder, "--interval", "studentized"])
    error = capsys.readouterr().err
    assert "--interval: invalid choice: 'studentized'" in error
    assert "percentile" in error and "bca" in error
    with pytest.raises(ResultsError, match="interval 'studentized': expected one of percentile"):
        headline_text(folder, interval="studentized")


def test_grid_main_effects_use_the_chosen_interval() -> None:
    effects = main_effects(grid_jobs(), interval="bca")
    assert effects.attrs["interval"] == "bca"
    row = effects.set_index("trick").loc["a"]
    assert row["ci_low"] <= row["effect"] <= row["ci_high"]


def test_grid_main_effects_pair_the_seeds_so_the_seed_spread_cancels() -> None:
    jobs = grid_jobs()
    jobs["fid"] += 10 * jobs["seed"]  # each seed shifts every cell alike, as paired seeds do
    effects = main_effects(jobs).set_index("trick")
    assert effects.loc["a", "analysis"] == "paired, 3 seeds"
    assert effects.loc["a", "effect"] == pytest.approx(-4 + 3 / 2)
    assert effects.loc["a", "ci_low"] == pytest.approx(effects.loc["a", "ci_high"])
    unpaired = jobs.assign(seed=range(len(jobs)))  # no seed has both sides
    effects = main_effects(unpaired).set_index("trick")
    assert effects.loc["a", "analysis"] == "unpaired"
    assert effects.loc["a", "effect"] == pytest.approx(-4 + 3 / 2)
    assert effects.loc["a", "ci_high"] - effects.loc["a", "ci_low"] > 10


def test_a_grid_main_effect_is_the_mean_of_each_seeds_effect_when_cells_fail() -> None:
    jobs = grid_jobs()
    failed = (jobs["variant"] == "a+b") & (jobs["seed"] == 0)
    jobs.loc[failed, "status"] = "diverged"
    effect = main_effects(jobs).set_index("trick").loc["a", "effect"]
    # seed 0 has only a+off on: 46 - mean(50, 48) = -3; seeds 1 and 2: -2.5 each
    assert effect == pytest.approx((-3 - 2.5 - 2.5) / 3)


def test_the_suite_chooses_its_interval_and_bench_report_overrides_it(results) -> None:
    results.planted("skewed", {"baseline": 50.0, "better": 45.0})
    meta_file = results.root / "skewed" / "suite.json"
    meta_file.write_text(json.dumps(json.loads(meta_file.read_text()) | {"interval": "bca"}))
    folder = str(results.root)
    assert set(pd.read_csv(io.StringIO(headline_text(folder, fmt="csv")))["interval"]) == {"bca"}
    chosen = headline_text(folder, fmt="csv", interval="percentile")
    assert set(pd.read_csv(io.StringIO(chosen))["interval"]) == {"percentile"}


def test_an_unknown_suite_interval_is_refused_naming_the_key_and_the_choices(tmp_path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "s"\ninterval = "studentized"\n')
    with pytest.raises(ConfigError) as refused:
        load_suite(suite)
    assert "suite.interval" in str(refused.value)
    assert "'percentile'" in str(refused.value) and "'bca'" in str(refused.value)
