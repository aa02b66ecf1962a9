"""The job table `bench run --dry-run` prints: one line per job, finished or pending."""

from __future__ import annotations

from pathlib import Path

from bench.expand import Job
from bench.run.store import ResultsStore


def job_table(jobs: list[Job], results: str | Path) -> str:
    """A fixed-width text table: job id, variant, seed, state, tricks switched on."""
    store = ResultsStore(results)
    header = ("job id", "variant", "seed", "state", "tricks")
    rows = [
        (
            job.id,
            job.variant,
            str(job.seed),
            "finished" if store.is_finished(job.suite, job.id) else "pending",
            ", ".join(job.config.tricks) or "-",
        )
        for job in jobs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
