"""The report of a sequential suite: its verdicts are the stage decisions, and it says which
stage decided each comparison, after how many seeds, and the jobs saved."""

from __future__ import annotations

from pathlib import Path

from bench.report import build_report, headline_text
from bench.sequential.runner import run_until_decided


def test_the_headline_and_the_stage_table_give_the_stage_decisions(
    ring_suite, planted_executor, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    run_until_decided(ring_suite(), results=results, device="cpu", progress=False)
    text = headline_text(results, ["ringseq"], "md")
    assert (
        "Sequential seeds: stages of 8, 10, 12 seeds (Pocock-type (Lan-DeMets) alpha spending, "
        "alpha 0.05, on "
        "modes_covered); 3 of 3 stages run. Jobs: 32 (the reference at 12 seeds, each "
        "comparison until decided), against 36 to run every comparison to 12 seeds: 4 saved "
        "(11%)." in text
    )
    assert "| dead | hurts | 1 of 3 | 8 |" in text
    assert "| placebo | undecided | - | 12 |" in text
    dead = next(line for line in text.splitlines() if line.startswith("| dead | 8 |"))
    assert "| hurts | sequential: hurts at stage 1 of 3 (8 seeds), adjusted p = " in dead
    placebo = next(line for line in text.splitlines() if line.startswith("| placebo | 12 |"))
    assert "sequential: undecided after 12 seeds (the most the suite allows)" in placebo
    page = build_report(results, ["ringseq"], tmp_path / "report.html").read_text()
    assert "Sequential seeds: stages of 8, 10, 12 seeds" in page and "4 saved (11%)" in page


def test_a_suite_with_a_list_of_seeds_has_no_stage_section(
    ring_suite, planted_executor, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    seeds = ["seeds=[0, 1, 2, 3, 4, 5, 6, 7]"]
    run_until_decided(ring_suite(), seeds, results=results, device="cpu", progress=False)
    assert not (results / "ringseq" / "stages.json").exists()
    assert "Sequential seeds" not in headline_text(results, ["ringseq"], "md")


def test_a_comparison_stopped_early_is_not_an_incomplete_suite(
    ring_suite, planted_executor, tmp_path: Path
) -> None:
    """dead stopped at 8 seeds by design: its seeds 8..11 are not missing jobs; a job of a
    stage that ran, deleted afterwards, is."""
    results = tmp_path / "results"
    run_until_decided(ring_suite(), results=results, device="cpu", progress=False)
    assert "INCOMPLETE" not in headline_text(results, ["ringseq"], "md")
    placebo_11 = next(
        path.parent
        for path in (results / "ringseq").glob("*/result.json")
        if '"variant": "placebo"' in path.read_text() and '"seed": 11' in path.read_text()
    )
    (placebo_11 / "result.json").unlink()
    text = headline_text(results, ["ringseq"], "md")
    assert "INCOMPLETE suite: 1 of 32 jobs have no result yet (placebo: seed 11)" in text
