"""Results on disk -> one pandas row per job, and `bench export`.

Columns: suite, design, reference_variant, variant, seed, job_id, status, diverged_at,
diverged_by, reason, suite_revision; each metric under its own name (`fid`, `isc`, ...);
`provenance.<key>` (backbone, sample counts, ...); cost (steps_completed, train/eval/wall
time, process CPU time of the job and of its training, steps_per_s, threads per worker,
packed: how many jobs shared the job's GPU, empty when it ran alone, and device);
`events.<detector>` (how often each failure detector fired); `factor.<trick>` (grid levels);
`trick.<name>` (on/off) and `trick.<name>.<param>`; `config.<section>.<key>`;
`version.<package>`; `fingerprint.<key>` (the code and machine class that made the job, see
`bench.provenance`, `bench.machine`); `evaluations`, the metrics at each checkpoint and the
end as a JSON list (`bench.report.budget`); and `job_dir`, where the job's history and
samples live.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from bench.errors import ResultsError
from bench.metric_registry import comparable_metrics
from bench.run.store.results import HISTORY_FILE, CorruptFile, ResultsStore, read_history
from bench.run.store.selection import SuiteJobs, select_jobs

LEADING = [
    *("suite", "design", "reference_variant", "variant", "seed", "job_id", "status"),
    *("diverged_at", "diverged_by", "reason", "suite_revision"),
]
COST = [
    "steps_completed", "train_time_s", "eval_time_s", "wall_time_s", "cpu_time_s",
    "train_cpu_time_s", "steps_per_s", "threads", "packed", "device",
]  # fmt: skip
GROUPS = (
    *("provenance.", "events.", "factor.", "trick.", "config.", "version."),
    *("fingerprint.", "plugin."),
)
CONFIG_SECTIONS = ("data", "model", "train", "eval")
HISTORY_COLUMNS = ["suite", "variant", "seed", "job_id"]
EVALUATIONS = "evaluations"  # each job's scored steps, as JSON: [{"step": 38, "fid": ...}, ...]


def load_suites(results_dir: str | Path, suites: list[str] | None = None) -> dict[str, dict]:
    """Each suite's `suite.json` (design, reference variant, source text...), by name; suites
    whose `suite.json` is corrupt are left out (`select_suites` names them)."""
    return {selected.suite: selected.meta for selected in select_suites(results_dir, suites)[0]}


def select_suites(
    results_dir: str | Path,
    suites: list[str] | None = None,
    revision: str | None = None,
    everything: bool = False,
) -> tuple[list[SuiteJobs], list[str]]:
    """Each named suite's poolable jobs (see `bench.run.store.selection`), and a line per suite
    skipped because its `suite.json` is corrupt (an error naming them if none is left)."""
    store = ResultsStore(results_dir)
    known = store.suites()
    if not known:
        raise ResultsError(f"{results_dir}: no results yet; run `bench run SUITE.toml` first")
    missing = sorted(set(suites or []) - set(known))
    if missing:
        raise ResultsError(f"{results_dir}: no suite {missing}; suites with results: {known}")
    selections, skipped = [], []
    for name in suites or known:
        try:
            selections.append(select_jobs(store, name, revision, everything))
        except CorruptFile as err:
            skipped.append(f"skipped suite {name}: {err}")
    if not selections:
        raise ResultsError("; ".join(skipped))
    return selections, skipped


def load_selection(
    results_dir: str | Path,
    suites: list[str] | None = None,
    revision: str | None = None,
    everything: bool = False,
) -> tuple[pd.DataFrame, list[SuiteJobs], list[str]]:
    """`load_results`, with each suite's selection and the suites skipped (for notes)."""
    store = ResultsStore(results_dir)
    selections, skipped = select_suites(results_dir, suites, revision, everything)
    rows = [_flatten(record, s.meta, store) for s in selections for record in s.pooled]
    if not rows:
        names = [s.suite for s in selections]
        notes = " ".join(note for s in selections for note in s.notes())
        raise ResultsError(f"{results_dir}: suites {names} have no finished jobs yet {notes}")
    jobs = pd.DataFrame(rows)
    switches = [c for c in jobs.columns if c.startswith("trick.") and c.count(".") == 1]
    jobs[switches] = jobs[switches].fillna(False).astype(bool)
    events = [c for c in jobs.columns if c.startswith("events.")]
    jobs[events] = jobs[events].fillna(0).astype(int)
    jobs["diverged_at"] = jobs["diverged_at"].astype("Int64")
    jobs = jobs.sort_values(["suite", "variant", "seed"], ignore_index=True)
    return jobs[_column_order(jobs.columns)], selections, skipped


def load_results(
    results_dir: str | Path,
    suites: list[str] | None = None,
    revision: str | None = None,
    everything: bool = False,
) -> pd.DataFrame:
    """One row per finished job of the named suites (default: all), columns as above.

    Only jobs that may be pooled are loaded: those of the suite's current definition (or of
    `revision`) made by one code fingerprint (`bench.run.store.selection`); `everything=True`
    loads every finished job, whose `suite_revision` and `fingerprint.*` columns tell them
    apart.
    """
    return load_selection(results_dir, suites, revision, everything)[0]


def selection_notes(selections: list[SuiteJobs], skipped: list[str]) -> list[str]:
    """Every warning and note of a selection, one line each (the CLI prints them)."""
    lines = list(skipped)
    for selected in selections:
        lines += [f"warning: suite {selected.suite}: {w}" for w in selected.warnings()]
        lines += [f"note: {note}" for note in selected.notes()]
    return lines


def _flatten(record: dict[str, Any], meta: dict, store: ResultsStore) -> dict:
    suite = record["suite"]
    config = record.get("config") or {}
    events = record.get("events") or []
    diverged = record.get("status") == "diverged"
    row: dict[str, Any] = {
        "suite": suite,
        "design": meta.get("design"),
        "reference_variant": meta.get("reference_variant", "baseline"),
        "variant": record["variant"],
        "seed": record["seed"],
        "job_id": record["job_id"],
        "status": record.get("status"),
        "diverged_at": record.get("diverged_at"),
        "diverged_by": events[-1]["detector"] if diverged and events else None,
        "reason": record.get("reason"),
        **(record.get("metrics") or {}),
        **{key: record.get(key) for key in COST},
        "packed": (record.get("execution") or {}).get("packed"),
        "suite_revision": record.get("suite_revision"),
        EVALUATIONS: json.dumps(record.get("evaluations") or []),
    }
    row |= _prefixed("provenance.", record.get("metric_provenance") or {})
    row |= _prefixed("events.", Counter(event["detector"] for event in events))
    row |= _prefixed("factor.", record.get("factors") or {})
    for name, params in (config.get("tricks") or {}).items():
        row[f"trick.{name}"] = True
        row |= _prefixed(f"trick.{name}.", params)
    for section in CONFIG_SECTIONS:
        row |= _prefixed(f"config.{section}.", config.get(section) or {})
    row |= _prefixed("version.", record.get("versions") or {})
    row |= {f"plugin.{p['module']}": plugin_label(p) for p in record.get("plugins") or []}
    row |= _prefixed("fingerprint.", record.get("fingerprint") or {})
    row["job_dir"] = str(store.job_dir(suite, record["job_id"]))
    return row


def plugin_label(plugin: dict[str, Any]) -> str:
    """`package version: trick:name, model:name` (or the module alone when not installed)."""
    package = " ".join(str(p) for p in (plugin.get("package"), plugin.get("version")) if p)
    provides = ", ".join(plugin.get("provides") or []) or "imported"
    return f"{package or plugin['module']}: {provides}"


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """`{prefix + key: value}`, lists and tables written as JSON so every cell is flat."""
    return {
        f"{prefix}{key}": json.dumps(value) if isinstance(value, list | tuple | dict) else value
        for key, value in values.items()
    }


def _column_order(columns: pd.Index) -> list[str]:
    trailing = [EVALUATIONS, "job_dir"]
    metrics = [c for c in columns if c not in LEADING + COST + trailing and "." not in c]
    known = [m for m in comparable_metrics() if m in metrics]
    grouped = [sorted(c for c in columns if c.startswith(g)) for g in GROUPS]
    return [
        *(c for c in LEADING if c in columns),
        *known,
        *sorted(set(metrics) - set(known)),
        *(c for c in COST if c in columns),
        *(c for group in grouped for c in group),
        *(c for c in trailing if c in columns),
    ]


def load_histories(jobs: pd.DataFrame) -> pd.DataFrame:
    """Every job's `history.csv` (read through its schema, `bench.run.store.results.read_history`),
    stacked, with its suite, variant, seed and job_id."""
    frames = []
    for job in jobs[[*HISTORY_COLUMNS, "job_dir"]].itertuples(index=False):
        path = Path(job.job_dir) / HISTORY_FILE
        rows = read_history(path) if path.is_file() else []
        if rows:
            frames.append(
                pd.DataFrame(rows).assign(**{c: getattr(job, c) for c in HISTORY_COLUMNS})
            )
    if not frames:
        return pd.DataFrame(columns=[*HISTORY_COLUMNS, "step"])
    return pd.concat(frames, ignore_index=True)


def export_table(
    results_dir: str | Path,
    suites: list[str] | None = None,
    fmt: Literal["csv", "json"] = "csv",
    revision: str | None = None,
    everything: bool = False,
    notes: list[str] | None = None,
) -> str:
    """Every job as one row: CSV with a header, or a JSON list of objects (for `bench export`).

    The jobs are those `load_results` pools; `notes`, when given, receives what was left out.
    """
    jobs, selections, skipped = load_selection(results_dir, suites, revision, everything)
    if notes is not None:
        notes += selection_notes(selections, skipped)
    if fmt == "csv":
        return jobs.to_csv(index=False)
    if fmt == "json":
        return jobs.to_json(orient="records", indent=2) + "\n"
    raise ResultsError(f"export format '{fmt}': expected 'csv' or 'json'")
