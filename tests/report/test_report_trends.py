"""Nightly trends: the history of `bench regress` drawn per figure, regressions listed."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from bench.errors import ResultsError
from bench.report import build_report
from bench.report.trends import HISTORY_FILE, load_history, trend_plot, trends_section

PNG = b"\x89PNG\r\n\x1a\n"


def history_line(night: int, variant: str, figure: str, value: float, regressed: bool) -> dict:
    change = value / 20 - 1
    return {
        "recorded_at": f"2025-02-0{night}T02:00:00+00:00",
        "suite": "labels",
        "variant": variant,
        "figure": figure,
        "unit": "FID",
        "value": value,
        "baseline": 20.0,
        "change": change,
        "ci_low": change - 0.1,
        "ci_high": change + 0.1,
        "seeds": 5,
        "verdict": "REGRESSED" if regressed else "ok",
        "regressed": regressed,
        "commit": f"{night}abcdef0123456789",
        "device": "NVIDIA H100 80GB HBM3",
        "backbone": "domain",
        "backbone_version": "domain-abc123",
    }


@pytest.fixture
def history(tmp_path: Path) -> Path:
    lines = []
    for night in (1, 2, 3):
        for variant in ("baseline", "smoothing"):
            worse = (night, variant) == (3, "smoothing")
            lines.append(
                history_line(night, variant, "fid", 40.0 if worse else 20.0 + night, worse)
            )
            lines.append(history_line(night, variant, "steps_per_s", 150.0, False))
    path = tmp_path / HISTORY_FILE
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


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
