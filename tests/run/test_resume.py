"""Interrupted suites lose nothing finished and resume where they stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path


def bench_command(suite: Path, results: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", "run", str(suite), "--results", str(results),
            "--device", "cpu", "--quiet", *extra]  # fmt: skip


def finished(results: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in results.glob("tiny/*/result.json")}


def start_and_stop_after_first_job(cmd: list[str], results: Path, sig: int) -> tuple[int, str]:
    """Run `cmd`, send `sig` as soon as one job has finished; (exit code, stderr)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not finished(results):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no job finished in time"
        time.sleep(0.02)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


def test_kill_9_mid_suite_then_rerun_finishes_the_rest(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    cmd = bench_command(tiny_suite, results, "--set", "train.steps=60")
    start_and_stop_after_first_job(cmd, results, signal.SIGKILL)
    before = finished(results)
    assert 1 <= len(before) < 4, "the kill should land mid-suite"

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(before)} already finished" in rerun.stdout
    after = finished(results)
    assert len(after) == 4
    assert all(after[job] == mtime for job, mtime in before.items()), "finished jobs re-ran"
    for path in results.glob("tiny/*/result.json"):
        assert json.loads(path.read_text())["status"] == "ok"


def test_ctrl_c_keeps_finished_jobs_and_says_how_to_resume(
    tiny_suite: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    cmd = bench_command(tiny_suite, results, "--set", "train.steps=60")
    returncode, stderr = start_and_stop_after_first_job(cmd, results, signal.SIGINT)
    assert returncode == 130
    assert "run the same command again" in stderr
    assert "Traceback" not in stderr
    assert len(finished(results)) >= 1
