"""What a nightly comparison leaves behind: a JSONL history line per tracked figure, and the
same figures as JSON for github-action-benchmark's `customSmallerIsBetter` tool.

A history line (one per variant and figure, appended; `bench report` draws these as trends)::

    {"recorded_at": "2025-01-31T02:14:00+00:00", "suite": "nightly", "variant": "baseline",
     "figure": "fid", "unit": "FID", "value": 14.1, "baseline": 12.3, "change": 0.146,
     "ci_low": 0.11, "ci_high": 0.18, "seeds": 5, "verdict": "REGRESSED", "regressed": true,
     "commit": "3f2a...", "device": "NVIDIA H100 80GB HBM3", "backbone": "domain",
     "backbone_version": "..."}

`recorded_at` is when the run's last job finished; `change`, `ci_low` and `ci_high` are
relative to the baseline (null where there was no test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json
from bench.metric_registry import metric, regressed_metrics
from bench.regress.compare import FIGURES, Check, Comparison

BENCHMARK_NAMES = {
    **{name: metric(name).label for name in regressed_metrics()},
    "steps_per_s": "time per step",
    "failed_seeds": "failed seeds",
}


def history_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One history record per check of `comparison`."""
    run = comparison.run
    shared = {
        "commit": run.provenance.commit,
        "device": run.provenance.device,
        "backbone": run.provenance.metric.get("backbone"),
        "backbone_version": run.provenance.metric.get("backbone_version"),
    }
    return [
        {
            "recorded_at": run.provenance.recorded_at,
            "suite": run.suite,
            "variant": check.variant,
            "figure": check.figure,
            "unit": FIGURES[check.figure],
            "value": check.current,
            "baseline": check.baseline,
            "change": check.change,
            "ci_low": check.ci_low,
            "ci_high": check.ci_high,
            "seeds": check.seeds[0],
            "verdict": check.verdict,
            "regressed": check.regressed,
            **shared,
        }
        for check in comparison.checks
    ]


def append_history(path: str | Path, comparison: Comparison) -> int:
    """Append the comparison's history lines to the JSONL file at `path`; returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = history_rows(comparison)
    with path.open("a") as out:
        out.writelines(json.dumps(row, sort_keys=True) + "\n" for row in rows)
    return len(rows)


def benchmark_entries(comparison: Comparison) -> list[dict[str, Any]]:
    """`[{name, unit, value, extra}]`, smaller is better: FID, ms per step, failed seeds.

    Throughput is given as milliseconds per training step (1000 / median steps/s) so that
    smaller is better for every entry. Figures without a value (no ok seed) are left out.
    """
    suite = comparison.run.suite
    entries = []
    for check in comparison.checks:
        if check.current is None:
            continue
        value, unit = check.current, FIGURES[check.figure]
        if check.figure == "steps_per_s":
            value, unit = 1000 / check.current, "ms/step"
        entries.append(
            {
                "name": f"{suite}/{check.variant} {BENCHMARK_NAMES[check.figure]}",
                "unit": unit,
                "value": round(value, 6),
                "extra": extra_text(check, comparison),
            }
        )
    return entries


def extra_text(check: Check, comparison: Comparison) -> str:
    provenance = comparison.run.provenance
    commit = (provenance.commit or "unknown")[:12]
    return f"{check.verdict}: {check.evidence}\ncommit {commit} on {provenance.device}"


def write_benchmark_json(path: str | Path, comparison: Comparison) -> None:
    atomic_write_json(Path(path), benchmark_entries(comparison))
