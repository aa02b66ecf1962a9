"""`bench regress`: compare the latest nightly run with a stored baseline; fail on regressions.

`regress` snapshots the latest run of a suite, refuses a baseline measured under another
protocol, device class or config, and checks every tracked variant (`compare` states the
rule); `update_baseline` records the latest run as the new baseline. `append_history` and
`write_benchmark_json` keep the figures for trends and for github-action-benchmark.
"""

from __future__ import annotations

from pathlib import Path

from bench.regress.baseline import (
    Baseline,
    BaselineError,
    check_comparable,
    load_baseline,
    snapshot,
    write_baseline,
)
from bench.regress.compare import Comparison, compare, format_comparison
from bench.regress.history import append_history, write_benchmark_json


def regress(
    results_dir: str | Path, baseline_path: str | Path, suite: str | None = None
) -> Comparison:
    """Compare the latest run of `suite` (default: the baseline's) with the baseline file."""
    baseline = load_baseline(baseline_path)
    run = snapshot(results_dir, suite or baseline.suite)
    check_comparable(baseline, run, baseline_path)
    return compare(run, baseline)


def update_baseline(
    results_dir: str | Path, baseline_path: str | Path, suite: str | None = None
) -> Baseline:
    """Write the latest run of `suite` as the baseline (tolerances of the old file kept)."""
    return write_baseline(baseline_path, snapshot(results_dir, suite))


__all__ = [
    "Baseline",
    "BaselineError",
    "Comparison",
    "append_history",
    "format_comparison",
    "regress",
    "update_baseline",
    "write_benchmark_json",
]
