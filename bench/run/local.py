"""Run a suite's pending jobs: in-process, in worker processes (one pool over every GPU), or
on a Ray cluster (`bench.run.ray_executor`).

Finished jobs (those with a `result.json`) are skipped, so re-running a suite resumes it.
A job that raises, or whose worker process dies, is recorded in `error.txt` in its folder and
the suite goes on; it has no result, so the next run retries it. Each job is claimed before it
runs, so runners sharing a results folder split the work (`bench.run.claims`). Ctrl-C or
SIGTERM stops the run; every finished job is kept. On CUDA, one worker process per GPU
(pinned to it by `CUDA_VISIBLE_DEVICES`, set before CUDA starts in the worker) trains several
jobs at once on CUDA streams (`bench.run.packed`); how many is chosen from measured memory
(`bench.run.placement`, `bench.run.packed`).
"""

from __future__ import annotations

import contextlib
import dataclasses
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

from bench.config import DataConfig, Suite
from bench.data import Dataset, load_dataset
from bench.errors import ConfigError, DataError
from bench.expand import Job, plan_suite, reference_variant
from bench.metrics import prepare_backbone
from bench.models.registry import check_networks, model_spec
from bench.plan import design_floor, require_reachable
from bench.run.claims import ClaimBook
from bench.run.definition import record_definition
from bench.run.fingerprint import code_fingerprint, code_id
from bench.run.job import resolve_device, run_job
from bench.run.packed import (
    collect,
    free_memory_and_job_bytes,
    heaviest,
    packed_jobs_per_gpu,
    packed_worker,
)
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
    stale: int = 0  # finished jobs made by other code (see bench.run.fingerprint)
    rerun_stale: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. claims taken over from dead runners


def execute_job(
    job: Job,
    results: str,
    device_name: str,
    threads: int,
    executor: str = "local",
    capture: bool = True,
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
        record = run_job(job, store, device, placement=placement, capture=capture)
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


def local_placement(
    device: str,
    workers: int | None,
    jobs_per_gpu: int | None,
    pending: list[Job] | None = None,
    capture: bool = True,
) -> Placement:
    """This machine's slots: CPU workers, or K job slots (streams) on every visible GPU.

    Without `--jobs-per-gpu`, K comes from the free memory of the fullest GPU and the
    memory of the heaviest pending job, measured by a short run of it in a throwaway
    process (it starts CUDA; this process never does).
    """
    if device != "cuda":
        return plan_placement([], workers)
    ids = visible_gpu_ids(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count())
    if not ids:
        raise ConfigError("--device cuda: no CUDA device is visible here; use --device cpu")
    reason = "--jobs-per-gpu"
    if jobs_per_gpu is None:
        spawn = multiprocessing.get_context("spawn")
        job = heaviest(pending) if pending else None
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as probe:
            free, job_bytes = probe.submit(free_memory_and_job_bytes, job, capture).result()
        jobs_per_gpu, reason = packed_jobs_per_gpu(free, job_bytes)
    return dataclasses.replace(plan_placement(ids, workers, jobs_per_gpu), reason=reason)


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
    capture: bool = True,
) -> RunSummary:
    """Run the unfinished `jobs` with a progress bar (and, with `rerun_stale`, the finished
    ones made by other code).

    `executor="local"`: on CPU, `workers` processes (default 1: in this process); on CUDA,
    one process per visible GPU training `jobs_per_gpu` jobs at once on streams (automatic
    when None), at most `workers` at once in all.
    `executor="ray"`: Ray tasks on the cluster at `address` (default: this node's, or a new one).
    `capture=False` (`--no-capture`) keeps CUDA training steps eager.
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

    stop = StopSignals()
    try:
        with stop, ClaimBook() as book:
            queue = PendingJobs(
                pending, store, book, done, finished=counts_as_finished(store, rerun_stale)
            )
            if pending and executor == "ray":
                from bench.run.ray_executor import run_on_ray

                run_on_ray(queue, store.root, device, jobs_per_gpu, address, done, bar, capture)
            elif pending:
                _run_local(queue, store.root, device, workers, jobs_per_gpu, done, bar, capture)
            summary.notes = queue.notes
    except KeyboardInterrupt:
        kept = sum(store.is_finished(job.suite, job.id) for job in jobs)  # workers have stopped
        raise stop.interrupted(kept, len(jobs)) from None
    finally:
        bar.close()
    return summary


def pending_jobs(jobs: list[Job], store: ResultsStore, rerun_stale: bool) -> tuple[list[Job], int]:
    """The jobs to run: those without a readable result, and with `rerun_stale` those whose
    result was made by other code; and how many finished jobs were made by other code."""
    pending, stale = [], 0
    for job in jobs:
        record = store.finished_record(job.suite, job.id)
        made_elsewhere = record is not None and not made_by_this_code(record)
        stale += made_elsewhere
        if record is None or (rerun_stale and made_elsewhere):
            pending.append(job)
    return pending, stale


def made_by_this_code(record: dict) -> bool:
    """Whether a job's record was made by the code running now (its fingerprint's code id)."""
    return code_id(record) == code_fingerprint()["code_id"]


def counts_as_finished(store: ResultsStore, rerun_stale: bool) -> Callable[[Job], bool]:
    """What a runner counts as done: any readable result, or with `rerun_stale` only results
    made by this code."""

    def finished(job: Job) -> bool:
        record = store.finished_record(job.suite, job.id)
        return record is not None and (not rerun_stale or made_by_this_code(record))

    return finished


def _run_local(
    queue: PendingJobs,
    root: Path,
    device: str,
    workers: int | None,
    jobs_per_gpu: int | None,
    done: Done,
    bar: tqdm,
    capture: bool = True,
) -> None:
    device_name = resolve_device(device).type
    placement = local_placement(device_name, workers, jobs_per_gpu, queue.waiting, capture)
    described = f"jobs [{placement.describe()}]"
    bar.set_description(described)
    if device_name == "cuda":
        _run_packed_claimed(queue, root, placement, done, bar, described, capture)
        return
    if placement.workers == (None,):
        while not queue.exhausted:
            job = queue.take()
            if job is None:
                queue.show_waiting(bar, described)
                time.sleep(queue.poll_s)
                continue
            status = execute_job(job, str(root), device_name, 0, capture=capture)
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


def _run_packed_claimed(
    queue: PendingJobs,
    root: Path,
    placement: Placement,
    done: Done,
    bar: tqdm,
    described: str,
    capture: bool,
) -> None:
    """`_run_packed` over every job this runner can claim now, again for jobs released later."""

    def finish(job: Job, status: str) -> None:
        queue.finish(job, status)
        done(job, status)

    while not queue.exhausted:
        claimed = list(iter(queue.take, None))
        if claimed:
            _run_packed(claimed, root, placement, finish, capture)
        elif not queue.exhausted:
            queue.show_waiting(bar, described)
            time.sleep(queue.poll_s)


def _run_packed(
    pending: list[Job],
    root: Path,
    placement: Placement,
    done: Done,
    capture: bool,
    device_name: str = "cuda",
) -> None:
    """One worker process per GPU, each training its slots' jobs on streams, taking the next
    pending job from a shared queue whenever a slot frees up."""
    slots = Counter(placement.workers)
    context = multiprocessing.get_context("spawn")
    jobs, results = context.Queue(), context.Queue()
    for job in pending:
        jobs.put(job)
    for _ in slots:
        jobs.put(None)
    threads = max(1, (os.cpu_count() or 1) // len(slots))
    workers = [
        context.Process(
            target=packed_worker,
            args=(gpu, k, jobs, results, str(root), capture, threads, device_name),
        )
        for gpu, k in slots.items()
    ]
    for worker in workers:
        worker.start()
    waiting = {job.id: job for job in pending}
    try:
        alive = lambda: any(worker.is_alive() for worker in workers)  # noqa: E731
        for job_id, status in collect(results, len(pending), alive):
            done(waiting.pop(job_id), status)
        for job in waiting.values():  # a worker process died (out of memory, killed)
            path = ResultsStore(root).job_dir(job.suite, job.id) / ERROR_FILE
            atomic_write_bytes(path, b"its GPU worker process exited before the job ended\n")
            done(job, "failed")
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join()


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
    warn: Callable[[str], None] | None = None,
    max_jobs: int | None = None,
    rerun_stale: bool = False,
    capture: bool = True,
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
        capture=capture,
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
