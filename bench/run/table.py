"""The job table `bench run --dry-run` prints: one line per job and what a run would do with it.

A job is `finished` (a result this code made: skipped), `stale` (a result other code made:
skipped and never pooled with this code's, or re-run with `--rerun-stale`) or `pending`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.expand import Job
from bench.run.pending import made_by_this_code
from bench.run.store import ResultsStore


def job_state(store: ResultsStore, job: Job, rerun_stale: bool = False) -> str:
    """`finished`, `stale` (`stale: re-run` with `rerun_stale`) or `pending`."""
    record = store.finished_record(job.suite, job.id)
    if record is None:
        return "pending"
    if made_by_this_code(record):
        return "finished"
    return "stale: re-run" if rerun_stale else "stale"


def job_table(jobs: list[Job], results: str | Path, rerun_stale: bool = False) -> str:
    """A fixed-width text table (job id, variant, seed, state, tricks switched on), then a
    count of each state."""
    store = ResultsStore(results)
    header = ("job id", "variant", "seed", "state", "tricks")
    rows = [
        (
            job.id,
            job.variant,
            str(job.seed),
            job_state(store, job, rerun_stale),
            ", ".join(job.config.tricks) or "-",
        )
        for job in jobs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    counts = Counter(row[3] for row in rows)
    lines.append("states: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    if counts["stale"]:
        lines.append(
            f"{counts['stale']} stale jobs were made by other code (another gan-bench source or "
            "library version): a run skips them and never pools them with this code's results; "
            "--rerun-stale re-runs them"
        )
    return "\n".join(lines)
