"""The checks: injected regressions are caught, and every check shows its evidence."""

from __future__ import annotations

from bench.regress.baseline import Baseline, SeedResult
from bench.regress.compare import NO_TEST, REGRESSED, compare, format_comparison


def test_same_distribution_passes(synthetic, make_run) -> None:
    baseline = Baseline(**dict(make_run(synthetic(0))))
    comparison = compare(make_run(synthetic(1)), baseline)
    assert not comparison.regressions
    assert len(comparison.checks) == 3 * len(baseline.variants)


def test_injected_fid_regression_is_caught(synthetic, make_run) -> None:
    baseline = Baseline(**dict(make_run(synthetic(0))))
    run = make_run(synthetic(1, fid_scale={"spectral_norm": 2.0}))
    flagged = [(c.variant, c.figure) for c in compare(run, baseline).regressions]
    assert flagged == [("spectral_norm", "fid")]


def test_injected_slowdown_is_caught(synthetic, make_run) -> None:
    baseline = Baseline(**dict(make_run(synthetic(0))))
    run = make_run(synthetic(1, speed_scale={"baseline": 0.8}))
    (check,) = compare(run, baseline).regressions
    assert (check.variant, check.figure) == ("baseline", "steps_per_s")
    assert check.ci_high < -0.10
    assert "regression if the CI lies below -10%" in check.evidence


def test_changes_within_tolerance_pass(synthetic, make_run) -> None:
    baseline = Baseline(**dict(make_run(synthetic(0))))
    run = make_run(synthetic(0, fid_scale={"baseline": 1.05}, speed_scale={"baseline": 0.95}))
    assert not compare(run, baseline).regressions


def test_new_divergences_and_missing_seeds_fail(synthetic, make_run) -> None:
    baseline = Baseline(**dict(make_run(synthetic(0))))
    run = make_run(synthetic(1))
    seeds = run.variants["baseline"].seeds
    seeds[0] = SeedResult(job_id="x", status="diverged", steps_per_s=150.0)
    del seeds[1]
    (check,) = compare(run, baseline).regressions
    assert (check.variant, check.figure, check.current) == ("baseline", "failed_seeds", 2.0)
    assert "seed 0 diverged, seed 1 missing" in check.evidence


def test_too_few_seeds_is_no_test_not_a_failure(synthetic, make_run) -> None:
    baseline = Baseline(**dict(make_run(synthetic(0))))
    run = make_run(synthetic(1))
    seeds = run.variants["instance_noise"].seeds
    for seed in (1, 2, 3, 4):
        seeds[seed] = SeedResult(job_id="x", status="ok", fid=None, steps_per_s=150.0)
    fid = next(
        c
        for c in compare(run, baseline).checks
        if c.figure == "fid" and c.variant == "instance_noise"
    )
    assert fid.verdict == NO_TEST and not fid.regressed


def test_table_lists_every_check_with_evidence(synthetic, make_run) -> None:
    baseline = Baseline(**dict(make_run(synthetic(0))))
    values = synthetic(1, fid_scale={"baseline": 3.0})
    values["new_trick"] = values["baseline"]
    table = format_comparison(compare(make_run(values), baseline))
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["variant", "check", "baseline"]
    assert len(lines) == 1 + 15 + 4
    flagged = [line for line in lines if REGRESSED in line]
    assert flagged[0].split()[:2] == ["baseline", "fid"] and "CI above +10%" in flagged[0]
    assert flagged[1].startswith("baseline fid REGRESSED: median FID ")
    assert "untracked variant 'new_trick'" in table
    assert lines[-1].startswith("1 regression(s) in 15 checks of suite 'nightly'")
