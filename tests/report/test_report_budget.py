"""Verdicts across the training budget: per-checkpoint verdicts, the budget-sensitive flag,
`[suite] budget` as the headline step, its errors, and the effect-vs-steps plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.errors import ResultsError
from bench.report import build_report, headline_text, load_results
from bench.report.budget import checkpoint_frame, jobs_at
from bench.report.headline import Analysis, suite_headline
from bench.report.plots import budget_plot
from bench.sequential.stage import stage_data

STEPS = (25, 50, 75, 100)
# Planted effects on FID (variant - baseline) at each checkpoint, paired over 8 seeds.
EFFECTS = {
    "slow_start": (5.0, 5.0, 0.0, 0.0),  # hurts up to half way, then no effect
    "early_only": (5.0, 0.0, 0.0, 0.0),  # hurts only in the first half: not flagged
    "steady": (5.0, 5.0, 5.0, 5.0),  # hurts throughout
    "flip": (0.0, 0.0, 2.0, -3.0),  # helps at the end, hurts at 3/4: the sign changes
}
PNG = b"\x89PNG"


def plant(results, budget: int | None = None) -> None:
    """8 paired seeds; the baseline improves over training, each variant adds its effect
    (+ tiny per-seed noise), at each of the four checkpoints."""
    rng = np.random.default_rng(3)
    results.suite("budget")
    suite_json = results.root / "budget" / "suite.json"
    meta = json.loads(suite_json.read_text()) | {"seeds": list(range(8)), "budget": budget}
    suite_json.write_text(json.dumps(meta))
    for seed in range(8):
        base = {s: 40 - s / 5 + rng.normal(0, 1) for s in STEPS}
        plans = {"baseline": (0.0,) * 4, **EFFECTS}
        for variant, effects in plans.items():
            points = [
                {"step": s, "fid": base[s] + e + rng.normal(0, 0.05)}
                for s, e in zip(STEPS, effects, strict=True)
            ]
            metrics = {"fid": points[-1]["fid"]}
            results.job("budget", variant, seed, metrics, evaluations=points)


def headline_of(results) -> pd.DataFrame:
    meta = json.loads((results.root / "budget" / "suite.json").read_text())
    return suite_headline(load_results(results.root), analysis=Analysis.of(meta))


def test_a_trick_that_hurts_until_half_way_is_flagged_budget_sensitive(results) -> None:
    plant(results)
    headline = headline_of(results).set_index("variant")
    assert headline.loc["slow_start", "verdict"] == "equivalent"  # the end: no effect
    assert headline.loc["steady", "verdict"] == "hurts"
    flags = headline["budget_sensitive"].to_dict()
    assert flags == {
        "baseline": None,
        "slow_start": True,  # hurts at step 50, in the last half
        "early_only": False,  # hurt only at step 25: the first half does not count
        "steady": False,
        "flip": True,  # helps at the end, hurts at step 75
    }
    assert "hurts at step 50 (+5" in headline.loc["slow_start", "budget_note"]
    checkpoints = checkpoint_frame(headline.reset_index())
    slow = checkpoints[checkpoints["variant"] == "slow_start"].set_index("step")
    assert list(slow["verdict"]) == ["hurts", "hurts", "equivalent", "equivalent"]
    assert slow.loc[50, "ci_low"] > 4 and slow.loc[100, "ci_high"] < 1


def test_the_flag_and_the_checkpoints_reach_markdown_and_csv(results) -> None:
    plant(results)
    md = headline_text(results.root, fmt="md")
    short = md.split("\n\n")[1].splitlines()
    assert short[0].endswith("| budget-sensitive |")
    assert any(line.startswith("| slow_start |") and line.endswith("| yes |") for line in short)
    assert "slow_start (equivalent):" in md and "changes with the training budget" in md
    assert "Across the training budget" in md and "| step 25 | step 50 | step 75 | step 100 |" in md
    assert "descriptive" in md and "Verdicts at step 100 of 100 (the end of training)" in md
    csv = pd.read_csv(__import__("io").StringIO(headline_text(results.root, fmt="csv")))
    rows = csv.set_index("variant")
    assert rows.loc["flip", "budget-sensitive"] == "yes"
    flags = rows["budget_sensitive"].astype(bool)
    assert flags["flip"] and not flags["steady"]


def test_suite_budget_names_the_step_of_the_headline_verdict(results) -> None:
    plant(results, budget=50)
    headline = headline_of(results)
    rows = headline.set_index("variant")
    assert headline.attrs["budget"]["step"] == 50
    assert rows.loc["slow_start", "verdict"] == "hurts"  # read at step 50, not at the end
    assert rows.loc["slow_start", "difference"] == pytest.approx(5, abs=0.2)
    assert rows.loc["early_only", "verdict"] == "equivalent"
    assert bool(rows.loc["slow_start", "budget_sensitive"])  # equivalent at 75 and 100
    assert "([suite] budget, declared in advance)" in headline_text(results.root, fmt="md")


def test_a_budget_that_is_not_a_checkpoint_is_a_clear_error(results, capsys) -> None:
    plant(results, budget=60)
    with pytest.raises(ResultsError, match=r"budget = 60: not a checkpoint .*25, 50, 75, 100"):
        headline_of(results)
    assert main(["report", "--results", str(results.root), "--format", "md"]) != 0
    err = capsys.readouterr().err
    assert "suite.json of suite 'budget': budget = 60" in err and "Traceback" not in err


def test_a_suite_file_budget_must_be_a_checkpoint(capsys) -> None:
    argv = ["run", "suites/label_tricks.toml", "--dry-run", "--set", "suite.budget=100"]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: suites/label_tricks.toml: suite.budget = 100: not a checkpoint of variant "
        "'baseline'; its checkpoints: 38, 75, 150, 225, 300 (name one, or list the step in "
        "[base.eval] at)"
    )
    assert main([*argv[:-1], "suite.budget=150"]) == 0


def test_jobs_at_a_checkpoint_keep_a_later_divergence_out(results) -> None:
    """A job that diverged at step 80 was a finished job at step 50 and is a failed one at
    100; an old record without checkpoints has no budget analysis at all."""
    results.suite("d")
    points = [{"step": 25, "fid": 30.0}, {"step": 50, "fid": 20.0}]
    events = [{"step": 80, "detector": "gradient_explosion", "detail": "exploded"}]
    diverged = {"status": "diverged", "diverged_at": 80, "events": events}
    results.job("d", "baseline", 0, {}, evaluations=points, **diverged)
    jobs = load_results(results.root)
    assert list(jobs_at(jobs, 50)[["status", "fid"]].iloc[0]) == ["ok", 20.0]
    at_end = jobs_at(jobs, 100)
    assert at_end["status"].tolist() == ["diverged"]
    assert at_end.get("fid", pd.Series([np.nan])).isna().all()


def test_the_effect_vs_steps_plot_sits_beside_the_forest_plot(results, tmp_path: Path) -> None:
    plant(results)
    png = budget_plot(headline_of(results))
    assert png is not None and png.startswith(PNG)
    page = build_report(results.root, None, tmp_path / "r.html").read_text()
    lead = page.split('<div class="lead-figures">', 1)[1].split("</div></div>", 1)[0]
    assert '<div class="effect-vs-steps"><figure><img alt="fid effect vs training steps"' in lead


def test_results_without_checkpoints_have_no_budget_analysis(results) -> None:
    results.planted("old", {"baseline": 10.0, "trick": 12.0}, seeds=8)
    headline = suite_headline(load_results(results.root))
    assert "budget_sensitive" not in headline and budget_plot(headline) is None


def test_a_sequential_stage_is_decided_at_the_suite_budget(results) -> None:
    plant(results)
    seeds = list(range(8))
    at_end = stage_data(results.root, "budget", "baseline", ["slow_start"], seeds, None, {})
    at_50 = stage_data(results.root, "budget", "baseline", ["slow_start"], seeds, None, {}, 50)
    assert at_end.tests["slow_start"].median_difference == pytest.approx(0, abs=0.2)
    assert at_50.tests["slow_start"].median_difference == pytest.approx(5, abs=0.2)
