"""Nightly trends: the history of `bench regress` drawn per figure, regressions listed."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from bench.errors import ResultsError
from bench.report import build_report
from bench.report.trends import HISTORY_FILE, load_history, trend_plot, trends_section

PNG = b"\x89PNG\r\n\x1a\n"


def test_each_figure_is_drawn_and_regressions_are_listed(history: Path) -> None:
    frame = load_history(history)
    assert len(frame) == 12 and set(frame["series"]) == {"baseline", "smoothing"}
    assert trend_plot(frame, "fid").startswith(PNG)
    assert trend_plot(frame, "steps_per_s").startswith(PNG)
    assert trend_plot(frame, "failed_seeds") is None
    assert plt.get_fignums() == []
    html = trends_section(history)
    assert html.count("<img") == 2 and "Nightly trends" in html
    assert "<td>2025-02-03 02:00</td><td>3abcdef012</td><td>smoothing</td><td>fid</td>" in html
    assert "+100.0% [+90.0%, +110.0%]" in html


def test_no_history_no_section_and_bad_history_is_an_error(tmp_path: Path) -> None:
    assert load_history(tmp_path / "none.jsonl") is None
    assert trends_section(tmp_path / "none.jsonl") == ""
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    with pytest.raises(ResultsError, match="not a JSON-lines history file"):
        load_history(bad)


def test_other_suites_are_left_out(history: Path) -> None:
    assert trends_section(history, ["other"]) == ""


def test_bench_report_includes_the_trends_of_its_results_folder(results, history: Path) -> None:
    results.suite("labels")
    for seed in range(2):
        results.job("labels", "baseline", seed, {"fid": 20.0 + seed})
    (results.root / HISTORY_FILE).write_text(history.read_text())
    page = build_report(results.root, out=results.root / "report.html").read_text()
    assert '<section id="trends"><h2>Nightly trends</h2>' in page
