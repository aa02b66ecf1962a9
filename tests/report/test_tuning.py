"""The report's tuning section: history, importances and D/G ratio plots from trial records."""

from __future__ import annotations

import re
from pathlib import Path

from bench.atomic import atomic_write_json
from bench.report import build_report
from bench.report.tuning import importances, tuning_section, tuning_trials
from bench.run.store.results import RESULT_FILE, ResultsStore


def test_section_draws_history_importances_and_ratio(tmp_path: Path, results_builder) -> None:
    trials = [
        ("baseline", 0, "complete", 40.0, 1e-4, 1, 1),
        ("baseline", 1, "complete", 30.0, 1e-3, 2, 1),
        ("baseline", 2, "pruned", 90.0, 1e-5, 1, 2),
        ("baseline", 3, "complete", 25.0, 3e-3, 4, 1),
        ("noise", 0, "complete", 35.0, 2e-4, 1, 1),
        ("noise", 1, "complete", 28.0, 2e-3, 3, 2),
        ("noise", 2, "complete", 33.0, 5e-4, 2, 2),
    ]
    results_builder(tmp_path).trials(trials)
    frame = tuning_trials(tmp_path, "s.trials")
    assert list(frame["D/G ratio"][:3]) == [1.0, 2.0, 0.5]
    scores = importances(frame[frame["variant"] == "baseline"])
    assert scores is not None and set(scores) == set(results_builder.TUNING_DISTRIBUTIONS)
    assert scores == importances(frame[frame["variant"] == "baseline"])  # seeded

    html = tuning_section(tmp_path, "s.trials")
    assert html.count("<img") == 3  # history, importances, D/G ratio
    assert "Lower FID is better" in html and "No importances" not in html
    assert re.search(r"<td>baseline</td>\s*<td>s.baseline</td>\s*<td>3</td>\s*<td>1</td>", html)
    assert "train.d_steps=4" in html  # the best baseline trial's parameters


def test_too_few_complete_trials_fall_back_with_a_note(tmp_path: Path, results_builder) -> None:
    results_builder(tmp_path).trials([("baseline", 0, "complete", 40.0, 1e-4, 1, 1)])
    html = tuning_section(tmp_path, "s.trials")
    assert "No importances for baseline: they need at least 2 complete trials" in html
    assert html.count("<img") == 2


def test_a_suite_without_trials_has_no_tuning_section(tmp_path: Path) -> None:
    ResultsStore(tmp_path).write_suite("plain", {"name": "plain"})
    atomic_write_json(tmp_path / "plain" / "j" / RESULT_FILE, {"suite": "plain", "variant": "b"})
    assert tuning_section(tmp_path, "plain") == ""


def test_a_trials_suite_gets_the_tuning_section_not_verdicts(
    tmp_path: Path, results_builder
) -> None:
    trials = [("baseline", n, "complete", 40.0 - n, 1e-4 * (n + 1), 1, 1) for n in range(3)]
    results_builder(tmp_path).trials(trials)
    page = build_report(tmp_path, ["s.trials"], tmp_path / "report.html").read_text()
    assert "Tuning trials s.trials" in page and "s.tuned" in page
    assert "Which variants help?" not in page
