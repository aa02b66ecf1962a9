"""The prepared GPU check (benchmarks/gpu/check.sh) parses, imports and plans on CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run_plans_within_its_budget() -> None:
    script = REPO / "benchmarks" / "gpu" / "check.sh"
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(script), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "of a 480 s budget" in done.stdout
    for section in ("tests", "per job", "suite", "evaluation"):
        assert f"  {section} " in done.stdout
    assert "every trick builds; tests/gpu collects" in done.stdout
    assert (
        not (REPO / "benchmarks" / "RESULTS.md").exists()
        or "GPU check" in (REPO / "benchmarks" / "RESULTS.md").read_text()
    )
