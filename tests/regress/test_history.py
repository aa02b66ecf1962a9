"""History lines append per run; the github-action-benchmark JSON has its documented shape."""

from __future__ import annotations

import json
from pathlib import Path

from bench.regress import append_history, regress, update_baseline, write_benchmark_json


def test_history_appends_one_line_per_figure_per_run(result_set, synthetic, tmp_path: Path) -> None:
    path, history = tmp_path / "baseline.json", tmp_path / "out" / "history.jsonl"
    update_baseline(result_set.write(synthetic(0)), path)
    for night, scale in ((1, 1.0), (2, 3.0)):
        stamp = f"2025-02-0{night}T02:00:00+00:00"
        results = result_set.write(
            synthetic(night, fid_scale={"baseline": scale}), finished_at=stamp
        )
        assert append_history(history, regress(results, path)) == 15
    rows = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(rows) == 30
    assert {r["recorded_at"] for r in rows} == {
        "2025-02-01T02:00:00+00:00",
        "2025-02-02T02:00:00+00:00",
    }
    assert {r["figure"] for r in rows} == {"fid", "steps_per_s", "failed_seeds"}
    flagged = [(r["recorded_at"][:10], r["variant"], r["figure"]) for r in rows if r["regressed"]]
    assert flagged == [("2025-02-02", "baseline", "fid")]
    first = rows[0]
    assert first["device"] == "NVIDIA H100 80GB HBM3" and first["backbone"] == "domain"
    assert {"value", "baseline", "change", "ci_low", "ci_high", "unit", "commit"} <= set(first)


def test_benchmark_json_is_custom_smaller_is_better(result_set, synthetic, tmp_path: Path) -> None:
    path, out = tmp_path / "baseline.json", tmp_path / "benchmark.json"
    results = result_set.write(synthetic(0))
    update_baseline(results, path)
    write_benchmark_json(out, regress(results, path))
    entries = json.loads(out.read_text())
    assert isinstance(entries, list) and len(entries) == 15
    for entry in entries:
        assert set(entry) == {"name", "unit", "value", "extra"}
        assert isinstance(entry["name"], str) and isinstance(entry["unit"], str)
        assert isinstance(entry["value"], float | int) and isinstance(entry["extra"], str)
    by_name = {e["name"]: e for e in entries}
    assert by_name["nightly/baseline FID"]["unit"] == "FID"
    speed = by_name["nightly/baseline time per step"]
    assert speed["unit"] == "ms/step" and 5 < speed["value"] < 8  # 1000 / ~150 steps/s
    assert by_name["nightly/spectral_norm failed seeds"]["value"] == 0
    assert len(by_name) == len(entries), "names are unique"
