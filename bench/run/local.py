"""Run a suite's pending jobs on this machine: in-process, or a pool of worker processes.

Finished jobs (those with a `result.json`) are skipped, so re-running a suite resumes it.
A job that raises is recorded in `error.txt` in its folder and the suite goes on; it has no
result, so the next run retries it. Ctrl-C stops the pool; every finished job is kept.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from bench.config import Suite
from bench.data import load_dataset
from bench.errors import BenchError
from bench.expand import Job, plan_suite, reference_variant
from bench.run.job import resolve_device, run_job
from bench.run.store import ResultsStore, atomic_write_bytes

ERROR_FILE = "error.txt"


class Interrupted(BenchError):
    """The user stopped the run; finished jobs are kept."""

    exit_code = 130


@dataclass
class RunSummary:
    """How a `bench run` ended: counts by status, and which jobs failed."""

    total: int
    skipped: int
    statuses: Counter = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)


def _execute(job: Job, results: str, device_name: str, threads: int) -> str:
    """Run one job (in a worker or in-process); returns its status."""
    if threads:
        torch.set_num_threads(threads)
    store = ResultsStore(results)
    try:
        record = run_job(job, store, resolve_device(device_name))
    except Exception:
        path = store.job_dir(job.suite, job.id) / ERROR_FILE
        atomic_write_bytes(path, traceback.format_exc().encode())
        return "failed"
    return record["status"]


def preflight(jobs: Iterable[Job]) -> None:
    """Load every dataset the jobs use, so a missing data folder fails before any job."""
    for config in {job.config.data for job in jobs}:
        load_dataset(config)


def run_jobs(
    jobs: list[Job],
    store: ResultsStore,
    device: str = "auto",
    workers: int = 1,
    progress: bool = True,
) -> RunSummary:
    """Run the unfinished `jobs`, `workers` at a time, with a progress bar."""
    device_name = str(resolve_device(device))
    pending = [job for job in jobs if not store.is_finished(job.suite, job.id)]
    summary = RunSummary(total=len(jobs), skipped=len(jobs) - len(pending))
    preflight(pending)
    bar = tqdm(total=len(pending), desc="jobs", unit="job", disable=not progress)

    def done(job: Job, status: str) -> None:
        summary.statuses[status] += 1
        if status == "failed":
            summary.failed.append(str(store.job_dir(job.suite, job.id) / ERROR_FILE))
        bar.set_postfix(dict(summary.statuses))
        bar.update()

    try:
        if workers <= 1:
            for job in pending:
                done(job, _execute(job, str(store.root), device_name, 0))
        else:
            _run_pool(pending, store.root, device_name, workers, done)
    except KeyboardInterrupt:
        finished = sum(summary.statuses.values()) + summary.skipped
        raise Interrupted(
            f"interrupted: {finished} of {len(jobs)} jobs are finished and kept; "
            "run the same command again to do the rest"
        ) from None
    finally:
        bar.close()
    return summary


def _run_pool(pending: list[Job], root: Path, device_name: str, workers: int, done) -> None:
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: dict[Future, Job] = {
            pool.submit(_execute, job, str(root), device_name, threads): job for job in pending
        }
        try:
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(futures[future], future.result())
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def run_suite(
    path: str | Path,
    overrides: list[str] | None = None,
    results: str | Path = "results",
    device: str = "auto",
    workers: int = 1,
    progress: bool = True,
) -> RunSummary:
    """Load, validate and expand a suite file, record its metadata, and run its jobs."""
    suite, jobs = plan_suite(path, overrides)
    preflight(jobs)
    store = ResultsStore(results)
    store.write_suite(suite.suite.name, suite_metadata(suite, Path(path), overrides or []))
    return run_jobs(jobs, store, device=device, workers=workers, progress=progress)


def suite_metadata(suite: Suite, path: Path, overrides: list[str]) -> dict:
    """What `results/<suite>/suite.json` records: the design, the reference, the source."""
    return {
        "name": suite.suite.name,
        "description": suite.suite.description,
        "design": suite.suite.design,
        "reference_variant": reference_variant(suite),
        "seeds": list(suite.suite.seeds),
        "ablated_tricks": list(suite.tricks),
        "source_file": str(path),
        "source_text": path.read_text(),
        "overrides": overrides,
    }
