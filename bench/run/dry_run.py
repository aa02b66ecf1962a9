"""The job table `bench run --dry-run` prints: one line per job and what a run would do with it.

A job is `finished` (a result this code made: skipped), `stale` (a result other code made:
skipped and never pooled with this code's, or re-run with `--rerun-stale`), `damaged` (a
result whose job folder does not check out, `bench.run.store.results.verify_job`: run again, and
each one is named below the table) or `pending`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench.expand import Job
from bench.run.store.pending import made_by_this_code
from bench.run.store.results import Damaged, ResultsStore


def job_state(found: dict[str, Any] | Damaged | None, rerun_stale: bool = False) -> str:
    """The state of a job whose `ResultsStore.look` gave `found`: `finished`, `stale`
    (`stale: re-run` with `rerun_stale`), `damaged` or `pending`."""
    if isinstance(found, Damaged):
        return "damaged"
    if found is None:
        return "pending"
    if made_by_this_code(found):
        return "finished"
    return "stale: re-run" if rerun_stale else "stale"


def job_table(jobs: list[Job], results: str | Path, rerun_stale: bool = False) -> str:
    """A fixed-width text table (job id, variant, seed, state, tricks switched on), then a
    count of each state and a line per damaged job."""
    store = ResultsStore(results)
    header = ("job id", "variant", "seed", "state", "tricks")
    found = [store.look(job.suite, job.id) for job in jobs]
    rows = [
        (
            job.id,
            job.variant,
            str(job.seed),
            job_state(look, rerun_stale),
            ", ".join(job.config.tricks) or "-",
        )
        for job, look in zip(jobs, found, strict=True)
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    counts = Counter(row[3] for row in rows)
    lines.append("states: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    lines += [f"{d.describe()}; a run redoes it" for d in found if isinstance(d, Damaged)]
    if counts["stale"]:
        lines.append(
            f"{counts['stale']} stale jobs were made by other code (another gan-bench source or "
            "library version): a run skips them and never pools them with this code's results; "
            "--rerun-stale re-runs them"
        )
    return "\n".join(lines)
