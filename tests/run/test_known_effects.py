"""suites/known_effects/: every suite states its expectations, and a tiny subset runs for real."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.config import SeedStages
from bench.expand import plan_suite
from bench.report import load_results
from bench.run.validate import known_effect_suites
from bench.stats.sequential import first_reachable_stage

REPO = Path(__file__).resolve().parents[2]
KNOWN = REPO / "suites" / "known_effects"


@pytest.mark.parametrize("path", known_effect_suites(KNOWN), ids=lambda p: p.stem)
def test_every_known_effect_suite_expects_something_with_a_source(path: Path) -> None:
    suite, jobs = plan_suite(path)
    assert suite.expect, f"{path.name} states no [expect.VARIANT]"
    assert all(e.source for e in suite.expect.values())
    variants = {job.variant for job in jobs}
    assert set(suite.expect) <= variants
    # Seeds in stages, the first of which can already decide a lone large effect.
    comparisons = len(variants) - 1
    stages = suite.suite.seeds
    assert isinstance(stages, SeedStages), f"{path.name}: seeds are not in stages"
    assert first_reachable_stage(stages.counts, comparisons, suite.suite.spending) == 0


def test_validate_runs_a_dead_configuration_for_real(capsys, tmp_path: Path) -> None:
    """lr x1000 ends as a failed job (dead training) and scores worse than the baseline."""
    tables = (KNOWN / "dead_configurations.toml").read_text().split("\n[")
    kept = [table for table in tables if "strong_d_tiny_g]" not in table]  # the slow one
    folder = tmp_path / "known"
    folder.mkdir()
    (folder / "dead.toml").write_text("\n[".join(kept))
    results = tmp_path / "results"
    sets = ["seeds=[0,1]", "train.steps=225", "eval.num_samples=200", 'exploratory="CI smoke"']
    argv = ["validate", "--suites", str(folder), "--results", str(results), "--quiet"]
    code = main([*argv, *[arg for item in sets for arg in ("--set", item)]])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "dead.toml: 4 jobs" in out and "lr_x1000" in out
    jobs = load_results(results)
    dead = jobs[jobs["variant"] == "lr_x1000"]
    assert set(dead["status"]) == {"diverged"}
    assert set(dead["diverged_by"]) <= {"dead_training", "d_loss_collapse"}
    baseline = jobs[jobs["variant"] == "baseline"]
    assert set(baseline["status"]) == {"ok"}
    by_seed = pd.merge(baseline, dead, on="seed", suffixes=("_baseline", "_dead"))
    assert (by_seed["fid_dead"] > by_seed["fid_baseline"]).all()
