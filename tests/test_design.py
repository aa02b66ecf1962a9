"""Every shipped suite can reach a verdict; one that cannot is refused before anything runs
(or runs, loudly, when exploratory); `bench plan` sizes a design from a pilot's spread."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.design import design_floor
from bench.expand import plan_suite, reference_variant
from bench.report.verdicts import compare_variants, direction
from bench.stats.power import detectable_effect, seeds_needed, seeds_to_decide

REPO = Path(__file__).resolve().parents[1]
SUITES = sorted((REPO / "suites").rglob("*.toml"))
TOY_METRICS = {"modes_covered": 5.0, "high_quality_fraction": 0.5}


def planted_jobs(suite, jobs, sds: float = 15.0) -> tuple[pd.DataFrame, str, dict[str, str]]:
    """Synthetic per-seed results of `suite`'s real variants and seeds: correlated seeds, and
    every variant `sds` standard deviations better (even) or worse (odd) than the reference."""
    reference = reference_variant(suite)
    variants = sorted({job.variant for job in jobs} - {reference})
    seeds = list(suite.suite.seed_list)
    metrics = {"fid": 20.0, "isc": 2.0, "kid": 0.02}
    if jobs[0].config.data.name in ("ring8", "grid25"):
        metrics = TOY_METRICS
    metric = suite.suite.primary_metric or next(iter(metrics))
    rng = np.random.default_rng(0)
    seed_effect = dict(zip(seeds, rng.normal(0, 3, len(seeds)), strict=True))
    rows, expected = [], {}
    for i, variant in enumerate([reference, *variants]):
        gain = 0 if variant == reference else (sds if i % 2 else -sds)
        expected[variant] = "reference" if not gain else ("helps" if gain > 0 else "hurts")
        for seed in seeds:
            row = {"variant": variant, "seed": seed, "status": "ok"}
            for name, centre in metrics.items():
                shift = direction(name) * gain if name == metric else 0
                row[name] = centre + seed_effect[seed] + shift + rng.normal(0, 1)
            rows.append(row)
    return pd.DataFrame(rows), metric, expected


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_every_shipped_suite_can_reach_a_verdict_for_a_large_effect(path: Path) -> None:
    suite, jobs = plan_suite(path)
    floor = design_floor(suite)
    if suite.suite.exploratory:
        assert len(suite.suite.exploratory) > 20, "say why the suite is exploratory"
        return
    assert floor.reachable, floor.describe()
    results, metric, expected = planted_jobs(suite, jobs)
    table = compare_variants(
        results, reference_variant(suite), metric, correction=suite.suite.correction
    )
    assert table.attrs["comparisons"] == floor.comparisons
    assert dict(zip(table["variant"], table["verdict"], strict=True)) == expected
    assert (table["analysis"].dropna() == f"paired, {len(suite.suite.seed_list)} seeds").all()


def test_the_readme_main_job_stays_quick_and_decidable() -> None:
    suite, jobs = plan_suite(REPO / "suites" / "label_tricks.toml")
    assert len(jobs) <= 32 and suite.base.train.steps <= 300
    assert design_floor(suite).adjusted < 0.05


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_suite_that_cannot_decide_is_refused_before_anything_runs(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    undecidable = tmp_path / "undecidable.toml"
    undecidable.write_text(tiny_suite.read_text().replace("exploratory = ", "# exploratory = "))
    results = tmp_path / "results"
    for extra in ([], ["--dry-run"]):
        code, _, err = run_cli(capsys, "run", str(undecidable), "--results", str(results), *extra)
        assert code == 2 and err.count("\n") == 1
        assert "undecidable.toml: suite.seeds = 2 seeds cannot reach a verdict" in err
        assert "0.5 >= 0.05; use at least 6 seeds" in err and "exploratory" in err
    assert not results.exists()


def test_dry_run_states_the_floor_and_exploratory_suites_warn_loudly(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, "run", str(REPO / "suites" / "label_tricks.toml"), "--dry-run")
    assert code == 0
    assert "3 comparisons, 8 paired seeds, Holm-Bonferroni correction" in out
    assert "smallest adjusted p = 0.0234" in out and "can reach a verdict" in out
    code, out, err = run_cli(capsys, "run", str(tiny_suite), "--dry-run")
    assert code == 0 and "CANNOT reach a verdict" in out
    assert err.startswith("WARNING: suite 'tiny' is exploratory (a seconds-long test fixture")


def test_bench_tune_refuses_too_few_confirmation_seeds(tmp_path: Path) -> None:
    from bench.errors import ConfigError
    from bench.tune import tune_suite

    with pytest.raises(ConfigError, match=r"--confirm = 3 seeds cannot reach a verdict"):
        tune_suite(
            REPO / "suites" / "tune_noise_and_ratio.toml",
            all_variants=True,
            confirm=3,
            results=tmp_path / "results",
        )
    assert not (tmp_path / "results").exists()


def write_pilot(root: Path, suite: str, spreads: dict[str, float], seeds: int = 8) -> None:
    """A pilot results folder: per-seed FIDs with the given SD of paired differences."""
    rng = np.random.default_rng(1)
    (root / suite).mkdir(parents=True)
    meta = {"name": suite, "design": "one_at_a_time", "reference_variant": "baseline"}
    (root / suite / "suite.json").write_text(json.dumps(meta))
    base = rng.normal(20, 3, seeds)
    values = {"baseline": base}
    values |= {v: base + rng.normal(0, sd, seeds) for v, sd in spreads.items()}
    for variant, draws in values.items():
        for seed, fid in enumerate(draws):
            job = root / suite / f"{variant}-{seed}"
            job.mkdir()
            record = {"job_id": job.name, "suite": suite, "variant": variant, "seed": seed}
            record |= {"status": "ok", "metrics": {"fid": float(fid)}}
            (job / "result.json").write_text(json.dumps(record))
    return values


def test_bench_plan_gives_the_seeds_an_effect_needs_from_the_pilot_spread(
    capsys, tmp_path: Path
) -> None:
    spreads = {"soft_labels": 1.0, "noisy_labels": 3.0, "one_sided_label_smoothing": 2.0}
    values = write_pilot(tmp_path / "pilot", "label_tricks", spreads)
    suite_file = str(REPO / "suites" / "label_tricks.toml")
    code, out, _ = run_cli(
        capsys, "plan", suite_file, "--pilot", str(tmp_path / "pilot"), "--effect", "2"
    )
    assert code == 0, out
    assert "smallest adjusted p = 0.0234" in out
    assert "equivalence margin: ±1 FID" in out and "seeds to decide (margin 1)" in out
    for variant in spreads:
        sd = float(np.std(values[variant] - values["baseline"], ddof=1))
        needed = seeds_needed(sd, 2.0, 3, 0.05)
        line = next(line for line in out.splitlines() if line.strip().startswith(variant))
        assert line.split()[-2] == str(needed)
        # and the seeds that decide it either way at the registry's 1 FID margin
        assert line.split()[-1] == str(seeds_to_decide(sd, 1.0, 3, 0.05) or "over 200")
        assert f"{detectable_effect(sd, 8, 3, 0.05):.3g}" in line
        # the answer is the fewest seeds that do it
        assert detectable_effect(sd, needed, 3, 0.05) <= 2.0
        assert needed == 2 or detectable_effect(sd, needed - 1, 3, 0.05) > 2.0


def test_bench_plan_names_a_missing_pilot_suite(capsys, tmp_path: Path) -> None:
    write_pilot(tmp_path / "pilot", "other", {"soft_labels": 1.0})
    suite_file = str(REPO / "suites" / "label_tricks.toml")
    code, _, err = run_cli(capsys, "plan", suite_file, "--pilot", str(tmp_path / "pilot"))
    assert code == 2 and "no suite ['label_tricks']" in err and "--pilot-suite" in err
    code, out, _ = run_cli(
        capsys, "plan", suite_file, "--pilot", str(tmp_path / "pilot"), "--pilot-suite", "other"
    )
    assert code == 0 and "soft_labels" in out


def test_primary_metric_is_validated_against_the_metrics_the_suite_scores(
    capsys, tiny_suite: Path
) -> None:
    code, _, err = run_cli(
        capsys, "run", str(tiny_suite), "--dry-run", "--set", 'primary_metric="modes_covered"'
    )
    assert code == 2
    assert (
        "tiny.toml: suite.primary_metric = 'modes_covered': not a metric this suite scores" in err
    )
    assert "allowed: class_coverage, class_kl_to_real, fid" in err
