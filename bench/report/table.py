"""Results on disk -> one pandas row per job, and `bench export`.

Columns: suite, design, reference_variant, variant, seed, job_id, status, diverged_at,
diverged_by, reason; each metric under its own name (`fid`, `isc`, ...); `provenance.<key>`
(backbone, sample counts, ...); cost (steps_completed, train/eval/wall time, steps_per_s,
device); `events.<detector>` (how often each failure detector fired); `factor.<trick>` (grid
levels); `trick.<name>` (on/off) and `trick.<name>.<param>`; `config.<section>.<key>`;
`version.<package>`; and `job_dir`, where the job's history and samples live.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from bench.errors import ResultsError
from bench.report.stats import DIRECTIONS
from bench.run.store import HISTORY_FILE, ResultsStore

LEADING = [
    *("suite", "design", "reference_variant", "variant", "seed", "job_id", "status"),
    *("diverged_at", "diverged_by", "reason"),
]
COST = ["steps_completed", "train_time_s", "eval_time_s", "wall_time_s", "steps_per_s", "device"]
GROUPS = ("provenance.", "events.", "factor.", "trick.", "config.", "version.", "plugin.")
CONFIG_SECTIONS = ("data", "model", "train", "eval")
HISTORY_COLUMNS = ["suite", "variant", "seed", "job_id"]


def load_suites(results_dir: str | Path, suites: list[str] | None = None) -> dict[str, dict]:
    """Each suite's `suite.json` (design, reference variant, source text...), by name."""
    store = ResultsStore(results_dir)
    known = store.suites()
    if not known:
        raise ResultsError(f"{results_dir}: no results yet; run `bench run SUITE.toml` first")
    missing = sorted(set(suites or []) - set(known))
    if missing:
        raise ResultsError(f"{results_dir}: no suite {missing}; suites with results: {known}")
    return {name: store.read_suite(name) for name in suites or known}


def load_results(results_dir: str | Path, suites: list[str] | None = None) -> pd.DataFrame:
    """One row per finished job of the named suites (default: all), columns as above."""
    store = ResultsStore(results_dir)
    meta = load_suites(results_dir, suites)
    rows = [_flatten(record, meta, store) for record in store.records(list(meta))]
    if not rows:
        raise ResultsError(f"{results_dir}: suites {list(meta)} have no finished jobs yet")
    jobs = pd.DataFrame(rows)
    switches = [c for c in jobs.columns if c.startswith("trick.") and c.count(".") == 1]
    jobs[switches] = jobs[switches].fillna(False).astype(bool)
    events = [c for c in jobs.columns if c.startswith("events.")]
    jobs[events] = jobs[events].fillna(0).astype(int)
    jobs["diverged_at"] = jobs["diverged_at"].astype("Int64")
    jobs = jobs.sort_values(["suite", "variant", "seed"], ignore_index=True)
    return jobs[_column_order(jobs.columns)]


def _flatten(record: dict[str, Any], meta: dict[str, dict], store: ResultsStore) -> dict:
    suite = record["suite"]
    config = record.get("config", {})
    events = record.get("events") or []
    diverged = record.get("status") == "diverged"
    row: dict[str, Any] = {
        "suite": suite,
        "design": meta[suite].get("design"),
        "reference_variant": meta[suite].get("reference_variant", "baseline"),
        "variant": record["variant"],
        "seed": record["seed"],
        "job_id": record["job_id"],
        "status": record.get("status"),
        "diverged_at": record.get("diverged_at"),
        "diverged_by": events[-1]["detector"] if diverged and events else None,
        "reason": record.get("reason"),
        **record.get("metrics", {}),
        **{key: record.get(key) for key in COST},
    }
    row |= _prefixed("provenance.", record.get("metric_provenance", {}))
    row |= _prefixed("events.", Counter(event["detector"] for event in events))
    row |= _prefixed("factor.", record.get("factors", {}))
    for name, params in config.get("tricks", {}).items():
        row[f"trick.{name}"] = True
        row |= _prefixed(f"trick.{name}.", params)
    for section in CONFIG_SECTIONS:
        row |= _prefixed(f"config.{section}.", config.get(section, {}))
    row |= _prefixed("version.", record.get("versions", {}))
    row |= {f"plugin.{p['module']}": plugin_label(p) for p in record.get("plugins") or []}
    row["job_dir"] = str(store.job_dir(suite, record["job_id"]))
    return row


def plugin_label(plugin: dict[str, Any]) -> str:
    """`package version: trick:name, model:name` (or the module alone when not installed)."""
    package = " ".join(str(part) for part in (plugin["package"], plugin["version"]) if part)
    return f"{package or plugin['module']}: {', '.join(plugin['provides']) or 'imported'}"


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """`{prefix + key: value}`, lists and tables written as JSON so every cell is flat."""
    return {
        f"{prefix}{key}": json.dumps(value) if isinstance(value, list | tuple | dict) else value
        for key, value in values.items()
    }


def _column_order(columns: pd.Index) -> list[str]:
    metrics = [c for c in columns if c not in LEADING + COST + ["job_dir"] and "." not in c]
    known = [m for m in DIRECTIONS if m in metrics]
    grouped = [sorted(c for c in columns if c.startswith(g)) for g in GROUPS]
    return [
        *(c for c in LEADING if c in columns),
        *known,
        *sorted(set(metrics) - set(known)),
        *(c for c in COST if c in columns),
        *(c for group in grouped for c in group),
        "job_dir",
    ]


def load_histories(jobs: pd.DataFrame) -> pd.DataFrame:
    """Every job's `history.csv`, stacked, with its suite, variant, seed and job_id."""
    frames = []
    for job in jobs[[*HISTORY_COLUMNS, "job_dir"]].itertuples(index=False):
        path = Path(job.job_dir) / HISTORY_FILE
        if path.is_file() and path.stat().st_size:
            frames.append(pd.read_csv(path).assign(**{c: getattr(job, c) for c in HISTORY_COLUMNS}))
    if not frames:
        return pd.DataFrame(columns=[*HISTORY_COLUMNS, "step"])
    return pd.concat(frames, ignore_index=True)


def export_table(
    results_dir: str | Path, suites: list[str] | None = None, fmt: Literal["csv", "json"] = "csv"
) -> str:
    """Every job as one row: CSV with a header, or a JSON list of objects (for `bench export`)."""
    jobs = load_results(results_dir, suites)
    if fmt == "csv":
        return jobs.to_csv(index=False)
    if fmt == "json":
        return jobs.to_json(orient="records", indent=2) + "\n"
    raise ResultsError(f"export format '{fmt}': expected 'csv' or 'json'")
