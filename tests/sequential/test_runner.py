"""Running a sequential suite: decided comparisons stop, the stages are recorded with their
basis, an interrupted run resumes to the same decisions, another plan is refused, and the
jobs are checked once per run, not once per stage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import bench.run.preflight
from bench.errors import ConfigError, ResultsError
from bench.run.suite import run_jobs
from bench.sequential.runner import run_until_decided


def stages_of(results: Path) -> dict:
    (record,) = json.loads((results / "ringseq" / "stages.json").read_text()).values()
    return record


def run(suite: Path, results: Path, overrides: list[str] | None = None):
    return run_until_decided(suite, overrides, results=results, device="cpu", progress=False)


def test_a_decided_comparison_stops_and_the_others_run_to_max(
    ring_suite, planted_executor, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    summary = run(ring_suite(), results)
    record = stages_of(results)
    first, *later = record["stages"]
    assert first["state"]["dead"]["verdict"] == "hurts"
    assert first["state"]["dead"]["stage"] == 1 and first["state"]["dead"]["seeds"] == 8
    assert [sorted(stage["tested"]) for stage in later] == [["placebo"], ["placebo"]]
    assert later[-1]["state"]["placebo"]["verdict"] == "undecided"
    dead_seeds = sorted(seed for variant, seed in planted_executor.trained if variant == "dead")
    assert dead_seeds == list(range(8))  # no seed after the stage that decided it
    assert len(planted_executor.trained) == 12 + 8 + 12
    # the basis: which seeds and jobs each decision was made on
    tested = first["tested"]["dead"]
    assert tested["seeds"] == list(range(8))
    for side, variant in (("variant", "dead"), ("reference", "baseline")):
        for seed, job_id in zip(tested["seeds"], tested["jobs"][side], strict=True):
            job = json.loads((results / "ringseq" / job_id / "result.json").read_text())
            assert (job["variant"], job["seed"]) == (variant, seed)
    assert (summary.totals["jobs"], summary.totals["worst_case"]) == (32, 36)
    lines = summary.describe()
    assert "dead: hurts at stage 1 (8 seeds)" in lines
    assert "placebo: undecided after 12 seeds" in lines
    assert "stages: 3 of 3; jobs: 32 of the worst case 36 (4 saved)" in lines


def test_with_a_margin_a_placebo_ends_equivalent_and_both_stop_at_the_first_stage(
    ring_suite, planted_executor, tmp_path: Path
) -> None:
    suite = ring_suite('primary_metric = "modes_covered"\nmargin = { modes_covered = 2.0 }')
    summary = run(suite, tmp_path / "results")
    verdicts = {row["variant"]: (row["verdict"], row["stage"]) for row in summary.decisions}
    assert verdicts == {"dead": ("hurts", 1), "placebo": ("equivalent", 1)}
    assert len(planted_executor.trained) == 24
    assert summary.totals["worst_case"] - summary.totals["jobs"] == 12


def test_an_interrupted_run_resumes_to_the_recorded_decisions(
    ring_suite, planted_executor, tmp_path: Path
) -> None:
    suite, results = ring_suite(), tmp_path / "results"
    planted_executor.fail = {("placebo", 9)}  # stage 2 cannot finish
    summary = run(suite, results)
    assert summary.incomplete and "stage 2 is not decided" in summary.incomplete
    assert [stage["stage"] for stage in stages_of(results)["stages"]] == [1]
    # a stage-1 result changes on disk after its stage was decided: the decision stands
    dead_job = stages_of(results)["stages"][0]["tested"]["dead"]["jobs"]["variant"][0]
    path = results / "ringseq" / dead_job / "result.json"
    job = json.loads(path.read_text())
    path.write_text(json.dumps({**job, "metrics": {"modes_covered": 9.0}}))
    planted_executor.fail = set()
    planted_executor.trained.clear()
    summary = run(suite, results)
    assert summary.incomplete is None
    record = stages_of(results)
    assert [stage["stage"] for stage in record["stages"]] == [1, 2, 3]
    assert record["stages"][-1]["state"]["dead"]["verdict"] == "hurts"
    assert sorted(planted_executor.trained) == [
        ("baseline", 10), ("baseline", 11), ("placebo", 9), ("placebo", 10), ("placebo", 11)
    ]  # fmt: skip
    before = (results / "ringseq" / "stages.json").read_text()
    run(suite, results)  # everything decided: nothing runs, nothing changes
    assert (results / "ringseq" / "stages.json").read_text() == before


def test_a_run_under_another_stage_plan_is_refused(
    ring_suite, planted_executor, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    run(ring_suite(), results)
    with pytest.raises(ConfigError, match=r"stages.json: the stages so far were decided with "):
        run(ring_suite(), results, ["suite.seeds={ start = 8, step = 2, max = 14 }"])


@pytest.mark.parametrize("text", ["{not json", '{"REV": {"plan": {}, "stages": [{"stage": "x"}]}}'])
def test_a_corrupt_stage_record_is_named_and_nothing_is_lost(
    ring_suite, planted_executor, tmp_path: Path, text: str
) -> None:
    results = tmp_path / "results"
    run(ring_suite(), results)
    path = results / "ringseq" / "stages.json"
    revision = next(iter(json.loads(path.read_text())))
    path.write_text(text.replace("REV", revision))
    finished = sorted(results.glob("ringseq/*/result.json"))
    with pytest.raises(ResultsError, match=r"stages.json"):
        run(ring_suite(), results)
    assert sorted(results.glob("ringseq/*/result.json")) == finished


def test_the_metric_registrys_default_margin_applies_without_a_declared_one(
    ring_suite, planted_executor, tmp_path: Path
) -> None:
    """As in the fixed analysis: high_quality_fraction has a default margin (0.02), so a
    placebo within 0.001 ends equivalent without `[suite] margin`."""
    planted_executor.metric = "high_quality_fraction"
    planted_executor.values = lambda variant, seed: (
        0.0 if variant == "dead" else 0.8 + 0.01 * (seed % 3) + 0.001 * (variant == "placebo")
    )
    summary = run(ring_suite('primary_metric = "high_quality_fraction"'), tmp_path / "results")
    verdicts = {row["variant"]: (row["verdict"], row["stage"]) for row in summary.decisions}
    assert verdicts == {"dead": ("hurts", 1), "placebo": ("equivalent", 1)}


@pytest.fixture
def preflights(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The arguments of every `preflight` call, whichever `bench` module makes it."""
    calls, checked = [], bench.run.preflight.preflight
    for module in [m for name, m in sys.modules.items() if name.startswith("bench")]:
        if getattr(module, "preflight", None) is checked:
            monkeypatch.setattr(module, "preflight", lambda *a: calls.append(a) or checked(*a))
    return calls


@pytest.mark.parametrize(
    ("seeds", "stages"),
    [("suite.seeds=[0, 1]", 1), ("suite.seeds={ start = 8, step = 2, max = 12 }", 3)],
)
def test_a_run_checks_its_jobs_once_however_many_stages_it_runs(
    ring_suite, planted_executor, preflights, monkeypatch, tmp_path: Path, seeds, stages
) -> None:
    """`preflight` (datasets, nets, tricks, backbones) runs before the first job of a plain or
    a sequential run, and not again in `run_jobs`, which each stage calls."""
    ran = []

    def planted_then_run(jobs, store, options):
        summary = planted_executor(jobs, store, options)
        ran.append(run_jobs(jobs, store, options))  # the real runner: every job is finished
        return summary

    monkeypatch.setattr("bench.sequential.runner.run_jobs", planted_then_run)
    suite = ring_suite('exploratory = "two seeds cannot decide"\nprimary_metric = "modes_covered"')
    run(suite, tmp_path / "results", [seeds])
    assert len(ran) == stages and all(summary.skipped == summary.total for summary in ran)
    assert len(preflights) == 1
