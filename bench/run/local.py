"""Run a suite's pending jobs: in-process, in worker processes (one pool over every GPU), or
on a Ray cluster (`bench.run.ray_executor`).

Finished jobs (those with a `result.json`) are skipped, so re-running a suite resumes it.
A job that raises, or whose worker process dies, is recorded in `error.txt` in its folder and
the suite goes on; it has no result, so the next run retries it. Each job is claimed before it
runs, so runners sharing a results folder split the work (`bench.run.claims`). Ctrl-C or
SIGTERM stops the run; every finished job is kept. On CUDA, each worker process is pinned to
one GPU and several workers share a GPU (`bench.run.placement`, `bench.run.workers`).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from bench.config import Suite
from bench.data import load_dataset
from bench.errors import ConfigError
from bench.expand import Job, plan_suite, reference_variant
from bench.metrics import prepare_backbone
from bench.run.claims import ClaimBook
from bench.run.job import resolve_device, run_job
from bench.run.pending import PendingJobs
from bench.run.placement import Placement, plan_placement, visible_gpu_ids
from bench.run.stopping import Interrupted as Interrupted  # where `bench tune` finds it
from bench.run.stopping import StopSignals
from bench.run.store import RESULT_FILE, ResultsStore, atomic_write_bytes
from bench.run.workers import Outcome, WorkerPool

ERROR_FILE = "error.txt"
EXECUTORS = ("local", "ray")

Done = Callable[[Job, str], None]


@dataclass
class RunSummary:
    """How a `bench run` ended: counts by status, and which jobs failed."""

    total: int
    skipped: int
    statuses: Counter = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. claims taken over from dead runners


def execute_job(
    job: Job, results: str, device_name: str, threads: int, executor: str = "local"
) -> str:
    """Run one job (in a worker or in-process), record how it ran; returns its status."""
    if threads:
        torch.set_num_threads(threads)
    store = ResultsStore(results)
    device = resolve_device(device_name)
    placement = {
        "executor": executor,
        "host": socket.gethostname(),
        "worker": os.getpid(),
        "gpu": os.environ.get("CUDA_VISIBLE_DEVICES") if device.type == "cuda" else None,
    }
    try:
        record = run_job(job, store, device, placement=placement)
    except Exception:
        path = store.job_dir(job.suite, job.id) / ERROR_FILE
        atomic_write_bytes(path, traceback.format_exc().encode())
        return "failed"
    return record["status"]


def preflight(jobs: Iterable[Job]) -> None:
    """Before any job: load every dataset the jobs use (a missing data folder fails here) and
    train the domain backbones they will be scored with, once, not once per worker."""
    for data, evaluation in {(job.config.data, job.config.eval) for job in jobs}:
        prepare_backbone(load_dataset(data), evaluation)


def _free_gpu_memory() -> list[int]:
    """Free bytes on each visible GPU (run in a throwaway process: it starts CUDA)."""
    return [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]


def local_placement(device: str, workers: int | None, jobs_per_gpu: int | None) -> Placement:
    """This machine's worker pool: CPU workers, or workers spread over every visible GPU."""
    if device != "cuda":
        return plan_placement([], workers)
    ids = visible_gpu_ids(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count())
    if not ids:
        raise ConfigError("--device cuda: no CUDA device is visible here; use --device cpu")
    free = None
    if jobs_per_gpu is None:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as probe:
            free = probe.submit(_free_gpu_memory).result()
    return plan_placement(ids, workers, jobs_per_gpu, free, os.cpu_count() or 1)


def check_executor(executor: str, workers: int | None) -> None:
    """Refuse an unknown executor, or Ray when it is not installed, before anything starts."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor '{executor}': expected one of {', '.join(EXECUTORS)}")
    if executor == "ray":
        from bench.run.ray_executor import require_ray

        if workers is not None:
            raise ConfigError(
                "--jobs is for the local executor; Ray runs as many jobs as the cluster has "
                "resources for (--jobs-per-gpu sets the GPU share of each)"
            )
        require_ray()


def run_jobs(
    jobs: list[Job],
    store: ResultsStore,
    device: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    jobs_per_gpu: int | None = None,
    executor: str = "local",
    address: str | None = None,
) -> RunSummary:
    """Run the unfinished `jobs` with a progress bar.

    `executor="local"`: on CPU, `workers` processes (default 1: in this process); on CUDA,
    `jobs_per_gpu` workers on each visible GPU (automatic when None), at most `workers`.
    `executor="ray"`: Ray tasks on the cluster at `address` (default: this node's, or a new one).
    """
    check_executor(executor, workers)
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

    stop = StopSignals()
    try:
        with stop, ClaimBook() as book:
            queue = PendingJobs(pending, store, book, done)
            if pending and executor == "ray":
                from bench.run.ray_executor import run_on_ray

                run_on_ray(queue, store.root, device, jobs_per_gpu, address, done, bar)
            elif pending:
                _run_local(queue, store.root, device, workers, jobs_per_gpu, done, bar)
            summary.notes = queue.notes
    except KeyboardInterrupt:
        kept = sum(store.is_finished(job.suite, job.id) for job in jobs)  # workers have stopped
        raise stop.interrupted(kept, len(jobs)) from None
    finally:
        bar.close()
    return summary


def _run_local(
    queue: PendingJobs,
    root: Path,
    device: str,
    workers: int | None,
    jobs_per_gpu: int | None,
    done: Done,
    bar: tqdm,
) -> None:
    device_name = resolve_device(device).type
    placement = local_placement(device_name, workers, jobs_per_gpu)
    described = f"jobs [{placement.describe()}]"
    bar.set_description(described)
    if placement.workers == (None,):
        while not queue.exhausted:
            job = queue.take()
            if job is None:
                queue.show_waiting(bar, described)
                time.sleep(queue.poll_s)
                continue
            status = execute_job(job, str(root), device_name, 0)
            queue.finish(job, status)
            done(job, status)
        return
    threads = max(1, (os.cpu_count() or 1) // len(placement.workers))
    with WorkerPool(placement.workers) as pool:
        while True:
            for slot in pool.idle_slots():
                job = queue.take()
                if job is None:
                    break
                pool.submit(slot, job, execute_job, job, str(root), device_name, threads)
            if not pool.busy and queue.exhausted:
                return
            polling = not queue.exhausted and pool.idle_slots()
            if polling:
                queue.show_waiting(bar, described)
            for outcome in pool.wait(queue.poll_s if polling else None):
                status = worker_status(outcome, root)
                queue.finish(outcome.tag, status)
                done(outcome.tag, status)


def worker_status(outcome: Outcome, root: Path) -> str:
    """A pool task's job status; a worker that died or raised leaves an `error.txt`."""
    if outcome.kind == "done":
        return outcome.value
    job, store = outcome.tag, ResultsStore(root)
    folder = store.job_dir(job.suite, job.id)
    if store.is_finished(job.suite, job.id):  # the worker died after writing the result
        with contextlib.suppress(OSError, ValueError, KeyError):
            return json.loads((folder / RESULT_FILE).read_text())["status"]
    if outcome.kind == "died":
        text = f"{outcome.value.describe()} while it ran this job; the job has no result and "
        text += "runs again when the same command is run again\n"
    else:
        text = outcome.value
    atomic_write_bytes(folder / ERROR_FILE, text.encode())
    return "failed"


def run_suite(
    path: str | Path,
    overrides: list[str] | None = None,
    results: str | Path = "results",
    device: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    jobs_per_gpu: int | None = None,
    executor: str = "local",
    address: str | None = None,
) -> RunSummary:
    """Load, validate and expand a suite file, record its metadata, and run its jobs."""
    check_executor(executor, workers)
    suite, jobs = plan_suite(path, overrides)
    preflight(jobs)
    store = ResultsStore(results)
    store.write_suite(suite.suite.name, suite_metadata(suite, Path(path), overrides or []))
    return run_jobs(
        jobs,
        store,
        device=device,
        workers=workers,
        progress=progress,
        jobs_per_gpu=jobs_per_gpu,
        executor=executor,
        address=address,
    )


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
