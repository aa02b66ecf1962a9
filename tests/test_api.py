"""The public API: `bench.run_suite` then `bench.load_results`, as a pandas user would."""

from __future__ import annotations

from pathlib import Path

import bench


def test_run_suite_then_load_results(tiny_suite: Path, tmp_path: Path) -> None:
    summary = bench.run_suite(tiny_suite, ["seeds=[0]"], results=tmp_path, progress=False)
    assert summary.statuses["ok"] == 2
    frame = bench.load_results(tmp_path)
    assert sorted(frame["variant"]) == ["baseline", "one_sided_label_smoothing"]
    assert frame["fid"].gt(0).all()


def test_every_export_resolves() -> None:
    for name in bench.__all__:
        assert callable(getattr(bench, name))
