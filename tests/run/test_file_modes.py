"""Files written atomically get the mode a plain write would: the umask is honoured."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bench.atomic import atomic_write_bytes, atomic_write_json
from bench.cli import main
from bench.metrics.cache import atomic_save


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_are_readable_by_group_and_others_under_umask_022(
    tmp_path: Path, umask_022
) -> None:
    atomic_write_bytes(tmp_path / "report.html", b"<html></html>")
    atomic_write_json(tmp_path / "result.json", {"status": "ok"})
    atomic_save({"mu": 0}, tmp_path / "cache" / "stats.pt")
    for path in (tmp_path / "report.html", tmp_path / "result.json", tmp_path / "cache/stats.pt"):
        assert mode(path) == 0o644, path


def test_a_stricter_umask_is_honoured_too(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        atomic_write_bytes(tmp_path / "private.json", b"{}")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "private.json") == 0o600


def test_replacing_a_file_keeps_its_mode(tmp_path: Path, umask_022) -> None:
    path = tmp_path / "baseline.json"
    path.write_text("{}")
    path.chmod(0o664)
    atomic_write_json(path, {"format": 1})
    assert mode(path) == 0o664


def test_suite_json_results_and_report_of_a_real_run(
    capsys, tiny_suite: Path, tmp_path: Path, umask_022
) -> None:
    results = tmp_path / "results"
    argv = ["run", str(tiny_suite), "--results", str(results), "--device", "cpu", "--quiet"]
    assert main([*argv, "--set", "seeds=[0]", "--set", "train.steps=5"]) == 0
    report = tmp_path / "reports" / "tiny.md"
    assert main(["report", "--results", str(results), "--format", "md", "--out", str(report)]) == 0
    written = [p for p in results.rglob("*") if p.is_file()] + [report]
    assert any(p.name == "suite.json" for p in written)
    assert any(p.name == "result.json" for p in written)
    assert {p: mode(p) for p in written} == {p: 0o644 for p in written}
