"""Run a suite's pending jobs: in-process, in worker processes (one pool over every GPU), or
on a Ray cluster (`bench.run.ray_executor`).

Finished jobs (those with a `result.json`) are skipped, so re-running a suite resumes it.
A job that raises is recorded in `error.txt` in its folder and the suite goes on; it has no
result, so the next run retries it. Ctrl-C stops the run; every finished job is kept.
On CUDA, each worker process is pinned to one GPU (`CUDA_VISIBLE_DEVICES`, set before CUDA
starts in the worker) and several workers share a GPU (`bench.run.placement`).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from bench.config import DataConfig, Suite
from bench.data import Dataset, load_dataset
from bench.errors import BenchError, ConfigError, DataError
from bench.expand import Job, plan_suite, reference_variant
from bench.metrics import prepare_backbone
from bench.models.registry import check_networks, model_spec
from bench.plan import design_floor, require_reachable
from bench.run.definition import record_definition
from bench.run.fingerprint import code_fingerprint, code_id
from bench.run.job import resolve_device, run_job
from bench.run.placement import Placement, plan_placement, visible_gpu_ids
from bench.run.store import ResultsStore, atomic_write_bytes

ERROR_FILE = "error.txt"
EXECUTORS = ("local", "ray")

Done = Callable[[Job, str], None]


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
    stale: int = 0  # finished jobs made by other code (see bench.run.fingerprint)
    rerun_stale: bool = False


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


def preflight(jobs: Iterable[Job], source: str | Path | None = None) -> None:
    """Before any job: load every dataset the jobs use (a missing data folder fails here,
    naming the suite file `source`), build each plugin model once to check the shapes it
    returns, and train the domain backbones the jobs will be scored with, once, not once per
    worker."""
    jobs = list(jobs)
    for data, model in {(job.config.data, job.config.model) for job in jobs}:
        dataset = _load_named(data, source)
        check_networks(model_spec(model.arch), model, dataset.shape, dataset.num_classes)
    for data, evaluation in {(job.config.data, job.config.eval) for job in jobs}:
        prepare_backbone(_load_named(data, source), evaluation)


def _load_named(data: DataConfig, source: str | Path | None) -> Dataset:
    """`load_dataset`, its errors naming the suite file `source`."""
    try:
        return load_dataset(data)
    except DataError as err:
        raise DataError(f"{source}: {err}" if source else str(err)) from None


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
    rerun_stale: bool = False,
) -> RunSummary:
    """Run the unfinished `jobs` with a progress bar (and, with `rerun_stale`, the finished
    ones made by other code).

    `executor="local"`: on CPU, `workers` processes (default 1: in this process); on CUDA,
    `jobs_per_gpu` workers on each visible GPU (automatic when None), at most `workers`.
    `executor="ray"`: Ray tasks on the cluster at `address` (default: this node's, or a new one).
    """
    check_executor(executor, workers)
    pending, stale = pending_jobs(jobs, store, rerun_stale)
    summary = RunSummary(len(jobs), len(jobs) - len(pending), stale=stale, rerun_stale=rerun_stale)
    preflight(pending)
    bar = tqdm(total=len(pending), desc="jobs", unit="job", disable=not progress)

    def done(job: Job, status: str) -> None:
        summary.statuses[status] += 1
        if status == "failed":
            summary.failed.append(str(store.job_dir(job.suite, job.id) / ERROR_FILE))
        bar.set_postfix(dict(summary.statuses))
        bar.update()

    try:
        if pending and executor == "ray":
            from bench.run.ray_executor import run_on_ray

            run_on_ray(pending, store.root, device, jobs_per_gpu, address, done, bar)
        elif pending:
            _run_local(pending, store.root, device, workers, jobs_per_gpu, done, bar)
    except KeyboardInterrupt:
        finished = sum(summary.statuses.values()) + summary.skipped
        raise Interrupted(
            f"interrupted: {finished} of {len(jobs)} jobs are finished and kept; "
            "run the same command again to do the rest"
        ) from None
    finally:
        bar.close()
    return summary


def pending_jobs(jobs: list[Job], store: ResultsStore, rerun_stale: bool) -> tuple[list[Job], int]:
    """The jobs to run: those without a readable result, and with `rerun_stale` those whose
    result was made by other code; and how many finished jobs were made by other code."""
    current = code_fingerprint()["code_id"]
    pending, stale = [], 0
    for job in jobs:
        record = store.finished_record(job.suite, job.id)
        made_elsewhere = record is not None and code_id(record) != current
        stale += made_elsewhere
        if record is None or (rerun_stale and made_elsewhere):
            pending.append(job)
    return pending, stale


def _run_local(
    pending: list[Job],
    root: Path,
    device: str,
    workers: int | None,
    jobs_per_gpu: int | None,
    done: Done,
    bar: tqdm,
) -> None:
    device_name = resolve_device(device).type
    placement = local_placement(device_name, workers, jobs_per_gpu)
    bar.set_description(f"jobs [{placement.describe()}]")
    if placement.workers == (None,):
        for job in pending:
            done(job, execute_job(job, str(root), device_name, 0))
        return
    threads = max(1, (os.cpu_count() or 1) // len(placement.workers))
    with worker_pool(placement.workers) as pool:
        futures: dict[Future, Job] = {
            pool.submit(execute_job, job, str(root), device_name, threads): job for job in pending
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


def worker_pool(gpus: Sequence[str | None]) -> ProcessPoolExecutor:
    """A spawn pool with one worker per entry; a worker with a GPU id sees only that GPU."""
    context = multiprocessing.get_context("spawn")
    slots: Any = context.Queue()
    for gpu in gpus:
        slots.put(gpu)
    return ProcessPoolExecutor(
        max_workers=len(gpus), mp_context=context, initializer=_claim_gpu, initargs=(slots,)
    )


def _claim_gpu(slots: Any) -> None:
    """Worker initialiser: take one GPU slot before anything in this process starts CUDA."""
    gpu = slots.get()
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu


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
    warn: Callable[[str], None] | None = None,
    max_jobs: int | None = None,
    rerun_stale: bool = False,
) -> RunSummary:
    """Load, validate and expand a suite file, record its metadata, and run its jobs.

    Everything is checked (suite, data, device, results folder) before anything is written.
    A suite that cannot reach a verdict is refused unless it is exploratory; then `warn` gets
    the warning (once everything is validated, before any job starts).
    """
    check_executor(executor, workers)
    suite, jobs = plan_suite(path, overrides, max_jobs)
    floor = design_floor(suite)
    require_reachable(floor, str(path))
    resolve_device(device)
    preflight(jobs, path)
    store = ResultsStore(results)
    if floor.exploratory and warn:
        warn(floor.warning())
    record_definition(store, suite_metadata(suite, Path(path), overrides or []), jobs)
    return run_jobs(
        jobs,
        store,
        device=device,
        workers=workers,
        progress=progress,
        jobs_per_gpu=jobs_per_gpu,
        executor=executor,
        address=address,
        rerun_stale=rerun_stale,
    )


def suite_metadata(suite: Suite, path: Path, overrides: list[str]) -> dict:
    """What `results/<suite>/suite.json` records: the design, the reference, the source."""
    return {
        "name": suite.suite.name,
        "description": suite.suite.description,
        "design": suite.suite.design,
        "reference_variant": reference_variant(suite),
        "seeds": list(suite.suite.seeds),
        "primary_metric": suite.suite.primary_metric,
        "correction": suite.suite.correction,
        "exploratory": suite.suite.exploratory,
        "expect": {name: claim.model_dump() for name, claim in suite.expect.items()},
        "ablated_tricks": list(suite.tricks),
        "source_file": str(path),
        "source_text": path.read_text(),
        "overrides": overrides,
    }
