"""Seeds missing on one side leave the rest paired (and are named); the bootstrap is seeded
from the data, so the same numbers always give the same interval."""

import json

import numpy as np
import pandas as pd
import pytest

from bench.report import headline_text
from bench.report.verdicts import compare_variants, main_effects
from bench.stats.ranktests import signed_rank_pvalue


def jobs_of(values: dict[str, dict[int, float]]) -> pd.DataFrame:
    rows = [
        {"variant": variant, "seed": seed, "status": "ok", "fid": value}
        for variant, by_seed in values.items()
        for seed, value in by_seed.items()
    ]
    return pd.DataFrame(rows)


def correlated(seeds: int = 8, shift: float = -1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    base = rng.normal(50, 5, seeds)
    return base, base + shift + rng.normal(0, 0.2, seeds)


def test_a_seed_missing_on_one_side_leaves_the_others_paired_and_is_named() -> None:
    base, better = correlated()
    values = {"baseline": dict(enumerate(base)), "better": dict(enumerate(better[:6]))}
    row = compare_variants(jobs_of(values), "baseline").set_index("variant").loc["better"]
    assert row["analysis"] == "paired, 6 of 8 seeds"
    assert row["p_value"] == signed_rank_pvalue(better[:6] - base[:6])
    assert "seeds 6, 7: no result for the variant yet" in row["reason"]
    assert row["verdict"] == "helps"  # 6 of 6 better: p = 2/64 with one comparison


def test_a_seed_missing_on_the_reference_side_is_named_too() -> None:
    base, better = correlated()
    values = {"baseline": dict(enumerate(base[:7])), "better": dict(enumerate(better))}
    row = compare_variants(jobs_of(values), "baseline").set_index("variant").loc["better"]
    assert row["analysis"] == "paired, 7 of 8 seeds"
    assert "seed 7: no result for the reference yet" in row["reason"]


def test_disjoint_seed_sets_stay_unpaired() -> None:
    base, better = correlated()
    values = {
        "baseline": dict(enumerate(base)),
        "better": {seed + 100: value for seed, value in enumerate(better)},
    }
    row = compare_variants(jobs_of(values), "baseline").set_index("variant").loc["better"]
    assert row["analysis"] == "unpaired, 8 vs 8 seeds"


def test_the_headline_says_the_suite_is_incomplete(results) -> None:
    results.suite("partial")
    meta_path = results.root / "partial" / "suite.json"
    meta_path.write_text(json.dumps(json.loads(meta_path.read_text()) | {"seeds": list(range(8))}))
    base, better = correlated()
    for seed in range(8):
        results.job("partial", "baseline", seed, {"fid": float(base[seed])}, files=False)
        if seed < 6:
            results.job("partial", "better", seed, {"fid": float(better[seed])}, files=False)
    markdown = headline_text(results.root, ["partial"], "md")
    assert "INCOMPLETE suite: 2 of 16 jobs have no result yet (better: seeds 6, 7)" in markdown
    assert "paired, 6 of 8 seeds" in markdown


@pytest.mark.parametrize("interval", ["percentile", "bca"])
def test_identical_per_seed_results_give_identical_intervals(interval: str) -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(50, 5, 8)
    twin = base - 1 + rng.normal(0, 1, 8)
    values = {
        "baseline": dict(enumerate(base)),
        "twin_a": dict(enumerate(twin)),
        "twin_b": dict(enumerate(twin)),
    }
    table = compare_variants(jobs_of(values), "baseline", interval=interval, margin=1.0)
    table = table.set_index("variant")
    columns = ["ci_low", "ci_high", "eq_ci_low", "eq_ci_high"]
    assert table.loc["twin_a", columns].tolist() == table.loc["twin_b", columns].tolist()
    # the same numbers under another variant name, in another suite, give the same interval
    alone = {"baseline": values["baseline"], "renamed": values["twin_a"]}
    again = compare_variants(jobs_of(alone), "baseline", interval=interval, margin=1.0)
    again = again.set_index("variant")
    assert again.loc["renamed", columns].tolist() == table.loc["twin_a", columns].tolist()


def test_grid_main_effects_of_identical_levels_have_identical_intervals() -> None:
    rng = np.random.default_rng(4)
    rows = []
    for seed in range(6):
        base = rng.normal(30, 2)
        for level, shift in (("off", 0.0), ("a", -1.0), ("b", -1.0)):
            fid = base + shift + (0.1 * seed if level != "off" else 0.0)
            rows.append(
                {"variant": level, "seed": seed, "status": "ok", "fid": fid, "factor.t": level}
            )
    effects = main_effects(pd.DataFrame(rows)).set_index("level")
    assert effects.loc["a", ["ci_low", "ci_high"]].tolist() == (
        effects.loc["b", ["ci_low", "ci_high"]].tolist()
    )
