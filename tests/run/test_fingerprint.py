"""Every result records the code that made it; results of other code are never silently pooled."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import bench
from bench.cli import main
from bench.report import load_results

FINGERPRINT_KEYS = {
    "gan-bench", "source", "torch", "torchvision", "torch-fidelity", "numpy", "python",
    "device_class", "code_id",
}  # fmt: skip


def changed_copy_of_the_package(tmp_path: Path) -> Path:
    """A copy of `bench` with one trick's source edited (a comment is enough to be other code)."""
    root = tmp_path / "edited"
    shutil.copytree(Path(bench.__file__).parent, root / "bench",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    labels = root / "bench" / "tricks" / "labels.py"
    labels.write_text(labels.read_text() + "\n# edited after the first run\n")
    return root


def run_with(code: Path, suite: Path, results: Path, *extra: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", str(suite), "--results", str(results),
         "--device", "cpu", "--quiet", *extra],
        capture_output=True, text=True, env=env, cwd=code, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_results_of_other_code_are_counted_rerun_on_request_and_never_pooled(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    argv = ["run", str(tiny_suite), "--results", str(results), "--device", "cpu", "--quiet"]
    assert main([*argv, "--set", "train.steps=4"]) == 0
    record = json.loads(next(results.glob("tiny/*/result.json")).read_text())
    assert set(record["fingerprint"]) == FINGERPRINT_KEYS
    assert record["fingerprint"]["device_class"].startswith("cpu")

    edited = changed_copy_of_the_package(tmp_path)
    out = run_with(edited, tiny_suite, results, "--set", "train.steps=4")
    assert "4 already finished" in out
    assert "4 of them were made by other code" in out and "--rerun-stale" in out

    out = run_with(edited, tiny_suite, results, "--set", "train.steps=4", "--set", "seeds=[0]",
                   "--rerun-stale")  # fmt: skip
    assert "2 ok" in out

    capsys.readouterr()
    jobs = load_results(results)
    assert len(jobs) == 2 and set(jobs["seed"]) == {0}
    assert jobs["fingerprint.code_id"].nunique() == 1
    assert main(["report", "--results", str(results), "--format", "md"]) == 0
    out, err = capsys.readouterr()
    assert "warning" in out and "2 jobs made by other code" in out
    assert "2 jobs made by other code" in err
    report = tmp_path / "r.html"
    assert main(["report", "--results", str(results), "--out", str(report)]) == 0
    page = report.read_text()
    assert page.count("2 jobs made by other code") >= 2  # the headline and the provenance
