"""Every result records the code that made it; results of other code are never silently pooled."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import bench
import bench.provenance
import bench.run.store.pending
from bench.cli import main
from bench.provenance import code_fingerprint, source_hash
from bench.report import load_results

FINGERPRINT_KEYS = {
    "gan-bench", "source", "torch", "torchvision", "torch-fidelity", "numpy", "cuda", "python",
    "device_class", "code_id", "cpu_model", "cpu_capability", "cpu_flags", "math_libraries",
    "gpu_model", "machine_class",
}  # fmt: skip


def test_the_source_hash_changes_with_any_file_of_the_package(tmp_path: Path) -> None:
    copy = tmp_path / "bench"
    shutil.copytree(Path(bench.__file__).parent, copy)
    assert source_hash(copy) == code_fingerprint()["source"]
    (copy / "tricks" / "__pycache__").mkdir(exist_ok=True)
    (copy / "tricks" / "__pycache__" / "labels.cpython-311.pyc").write_bytes(b"compiled")
    assert source_hash(copy) == code_fingerprint()["source"], "compiled caches are not code"
    labels = copy / "tricks" / "labels.py"
    labels.write_text(labels.read_text() + "\n# edited after the first run\n")
    assert source_hash(copy) != code_fingerprint()["source"]


@pytest.fixture
def other_code(monkeypatch: pytest.MonkeyPatch):
    """From now on this process runs 'other code': another source hash, hence another code id."""

    def switch() -> None:
        edited = {**code_fingerprint(), "source": "0" * 16, "code_id": "edited-code"}
        for module in (bench.provenance, bench.run.store.pending):
            monkeypatch.setattr(module, "code_fingerprint", lambda: edited)

    return switch


def test_results_of_other_code_are_counted_rerun_on_request_and_never_pooled(
    capsys, tiny_suite: Path, tmp_path: Path, other_code
) -> None:
    results = tmp_path / "results"
    argv = ["run", str(tiny_suite), "--results", str(results), "--device", "cpu", "--quiet"]
    argv += ["--set", "train.steps=4"]
    assert main(argv) == 0
    record = json.loads(next(results.glob("tiny/*/result.json")).read_text())
    assert set(record["fingerprint"]) == FINGERPRINT_KEYS
    assert record["fingerprint"]["device_class"].startswith("cpu")
    assert record["fingerprint"]["code_id"] == code_fingerprint()["code_id"]

    other_code()
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 already finished" in out
    assert "4 of them were made by other code" in out and "--rerun-stale" in out
    assert main([*argv, "--dry-run"]) == 0
    table = capsys.readouterr().out
    assert "states: 4 stale" in table and "4 stale jobs were made by other code" in table
    assert main([*argv, "--dry-run", "--rerun-stale"]) == 0
    assert "states: 4 stale: re-run" in capsys.readouterr().out

    assert main([*argv, "--set", "seeds=[0]", "--rerun-stale"]) == 0
    assert "2 ok" in capsys.readouterr().out

    jobs = load_results(results)
    assert len(jobs) == 2 and set(jobs["seed"]) == {0}
    assert set(jobs["fingerprint.code_id"]) == {"edited-code"}
    assert main(["report", "--results", str(results), "--format", "md"]) == 0
    out, err = capsys.readouterr()
    assert "warning" in out and "2 jobs made by other code" in out
    assert "2 jobs made by other code" in err
    report = tmp_path / "r.html"
    assert main(["report", "--results", str(results), "--out", str(report)]) == 0
    page = report.read_text()
    assert page.count("2 jobs made by other code") >= 2  # the headline and the provenance
