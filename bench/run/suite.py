"""Run a suite's pending jobs: in-process, in worker processes (`bench.run.executors.local`), packed
on every GPU (`bench.run.executors.packed`), or on a Ray cluster (`bench.run.executors.ray_tasks`).

Finished jobs (those with a `result.json`) are skipped, so re-running a suite resumes it.
A job that raises, or whose worker process dies, is recorded in `error.txt` in its folder and
the suite goes on; it has no result, so the next run retries it. Each job is claimed before it
runs, so runners sharing a results folder split the work (`bench.run.store.claims`,
`bench.run.store.pending`). Ctrl-C or SIGTERM stops the run; every finished job is kept. On CUDA,
one worker process per GPU (pinned to it by `CUDA_VISIBLE_DEVICES`, set before CUDA starts in
the worker) trains several jobs at once on CUDA streams; how many is chosen from measured
memory (`bench.run.executors.placement`, `bench.run.executors.jobs_per_gpu`).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from bench.config import Suite
from bench.design import (
    StagePlan,
    design_floor,
    require_decidable,
    require_reachable,
    stage_plan,
)
from bench.errors import ConfigError
from bench.expand import Job, expectations, plan_suite, reference_variant
from bench.metric_registry import default_margins
from bench.run.executors.jobs_per_gpu import measured_jobs_per_gpu
from bench.run.executors.local import run_on_cpus
from bench.run.executors.packed import run_packed_claimed
from bench.run.executors.placement import Placement, plan_placement, visible_gpu_ids
from bench.run.executors.ray_tasks import require_ray, run_on_ray
from bench.run.executors.threads import shared_cores, worker_threads
from bench.run.job.device import resolve_device
from bench.run.job.entry import ERROR_FILE
from bench.run.preflight import preflight
from bench.run.stopping import Interrupted as Interrupted  # where `bench tune` finds it
from bench.run.stopping import StopSignals
from bench.run.store.claims import ClaimBook
from bench.run.store.definition import record_definition
from bench.run.store.pending import PendingJobs, scan
from bench.run.store.results import ResultsStore

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RunOptions:
    """How a runner runs jobs.

    `executor="local"`: on CPU, `workers` processes (default 1: in this process); on CUDA,
    one process per visible GPU training `jobs_per_gpu` jobs at once on streams (automatic
    when None), at most `workers` at once in all.
    `executor="ray"`: Ray tasks on the cluster at `address` (default: this node's, or a new one).
    `rerun_stale`: also run the finished jobs made by other code. `capture=False`
    (`--no-capture`) keeps CUDA training steps eager. `progress`: show a progress bar.
    `threads`: torch threads per worker (`--threads`; None: `OMP_NUM_THREADS` if set, else
    each executor's default, see `bench.run.executors.threads`).
    """

    device: str = "auto"
    workers: int | None = None
    progress: bool = True
    jobs_per_gpu: int | None = None
    executor: str = "local"
    address: str | None = None
    rerun_stale: bool = False
    capture: bool = True
    threads: int | None = None


@dataclass
class RunSummary:
    """How a `bench run` ended: counts by status, and which jobs failed."""

    total: int
    skipped: int
    statuses: Counter = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    stale: int = 0  # finished jobs made by other code (see bench.provenance)
    rerun_stale: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. claims taken over from dead runners
    threads: int | None = None  # torch threads per worker, when any job ran

    def threads_text(self) -> str:
        """`; 1 thread per worker` for the summary line (nothing when no job ran)."""
        if self.threads is None:
            return ""
        return f"; {self.threads} thread{'s' * (self.threads != 1)} per worker"


def local_placement(
    device: str,
    workers: int | None,
    jobs_per_gpu: int | None,
    pending: list[Job] | None = None,
    capture: bool = True,
) -> Placement:
    """This machine's slots: CPU workers, or K job slots (streams) on every visible GPU.

    Without `--jobs-per-gpu`, K comes from the free memory of the fullest GPU and the
    measured memory of the pending jobs (`bench.run.executors.jobs_per_gpu`), unless
    `--jobs` leaves at most one job per GPU: then nothing is probed.
    """
    if device != "cuda":
        return plan_placement([], workers)
    ids = visible_gpu_ids(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count())
    if not ids:
        raise ConfigError("--device cuda: no CUDA device is visible here; use --device cpu")
    reason = "--jobs-per-gpu"
    if jobs_per_gpu is None and workers is not None and workers <= len(ids):
        jobs_per_gpu, reason = 1, f"--jobs {workers}: one job per GPU, memory not probed"
    elif jobs_per_gpu is None:
        jobs_per_gpu, reason = measured_jobs_per_gpu(pending, capture)
    return dataclasses.replace(plan_placement(ids, workers, jobs_per_gpu), reason=reason)


def check_executor(executor: str, workers: int | None) -> None:
    """Refuse an unknown executor, or Ray when it is not installed, before anything starts."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor '{executor}': expected one of {', '.join(EXECUTORS)}")
    if executor == "ray":
        if workers is not None:
            raise ConfigError(
                "--jobs is for the local executor; Ray runs as many jobs as the cluster has "
                "resources for (--jobs-per-gpu sets the GPU share of each)"
            )
        require_ray()


def run_jobs(jobs: list[Job], store: ResultsStore, options: RunOptions) -> RunSummary:
    """Run the unfinished `jobs` with a progress bar (and, with `options.rerun_stale`, the
    finished ones made by other code). The caller has run `preflight` on them."""
    check_executor(options.executor, options.workers)
    start = scan(jobs, store, options.rerun_stale)
    summary = RunSummary(
        len(jobs),
        len(jobs) - len(start.pending),
        stale=start.stale,
        rerun_stale=options.rerun_stale,
    )
    bar = tqdm(total=len(start.pending), desc="jobs", unit="job", disable=not options.progress)

    def done(job: Job, status: str) -> None:
        summary.statuses[status] += 1
        if status == "failed":
            summary.failed.append(str(store.job_dir(job.suite, job.id) / ERROR_FILE))
        bar.set_postfix(dict(summary.statuses))
        bar.update()

    stop = StopSignals()
    try:
        with stop, ClaimBook() as book:
            queue = PendingJobs(start, book, done, bar)
            if start.pending and options.executor == "ray":
                summary.threads = worker_threads(options.threads, 1)
                run_on_ray(
                    queue,
                    store.root,
                    options.device,
                    options.jobs_per_gpu,
                    options.address,
                    options.capture,
                    summary.threads,
                )
            elif start.pending:
                summary.threads = _run_here(queue, store.root, options)
            summary.notes = [f"{d.describe()}; it was run again" for d in start.damaged]
            summary.notes += queue.notes
    except KeyboardInterrupt:
        kept = sum(store.is_finished(job.suite, job.id) for job in jobs)  # workers have stopped
        raise stop.interrupted(kept, len(jobs)) from None
    finally:
        bar.close()
    return summary


def _run_here(queue: PendingJobs, root: Path, options: RunOptions) -> int:
    """The local executor: packed on every GPU on CUDA, else CPU workers. Returns the torch
    threads per worker (`bench.run.executors.threads`)."""
    device = resolve_device(options.device).type
    placement = local_placement(
        device, options.workers, options.jobs_per_gpu, queue.waiting, options.capture
    )
    if device != "cuda" and placement.workers == (None,):  # this process: torch's setting,
        threads = options.threads or torch.get_num_threads()  # OMP_NUM_THREADS read at start
    else:
        workers = len(set(placement.workers) if device == "cuda" else placement.workers)
        threads = worker_threads(options.threads, shared_cores(workers))
    queue.describe(f"jobs [{placement.describe()}, {threads} threads per worker]")
    run = run_packed_claimed if device == "cuda" else run_on_cpus
    run(queue, root, placement, options.capture, threads)
    return threads


@dataclass(frozen=True)
class PreparedSuite:
    """A suite checked and recorded, ready to run: its schema, jobs, store and options."""

    suite: Suite
    jobs: list[Job]
    store: ResultsStore
    options: RunOptions
    stages: StagePlan | None


def prepare_suite(
    path: str | Path,
    overrides: list[str] | None = None,
    results: str | Path = "results",
    options: RunOptions | None = None,
    warn: Callable[[str], None] | None = None,
    max_jobs: int | None = None,
    sequential: bool = True,
) -> PreparedSuite:
    """Load, validate and expand a suite file and record its metadata; run nothing.

    Everything is checked (suite, data, device, results folder) before anything is written.
    A suite that cannot reach a verdict (a list of seeds: `design_floor`; sequential seeds:
    `stage_plan`) is refused unless it is exploratory; then `warn` gets the warning, and one
    for each scoring backbone near chance (once everything is validated, before any job
    starts). `sequential=False` refuses a suite with sequential seeds (whose stages only
    `bench.sequential` runs).
    """
    options = options or RunOptions()
    check_executor(options.executor, options.workers)
    worker_threads(options.threads, 1)  # a bad --threads or OMP_NUM_THREADS: before anything
    suite, jobs = plan_suite(path, overrides, max_jobs)
    floor, stages = design_floor(suite), stage_plan(suite, str(path))
    if stages is None:
        require_reachable(floor, str(path))
    elif not sequential:
        raise ConfigError(
            f"{path}: suite.seeds is a table of stages (sequential seeds): run it with "
            "`bench run` or `bench.run_suite`, which stop each comparison once it is decided"
        )
    else:
        require_decidable(stages, str(path))
    resolve_device(options.device)
    warnings = preflight(jobs, path)
    store = ResultsStore(results)
    if floor.exploratory:
        warnings.insert(0, floor.warning())
    for line in warnings if warn else []:
        warn(line)
    record_definition(store, suite_metadata(suite, Path(path), overrides or []), jobs)
    return PreparedSuite(suite, jobs, store, options, stages)


def run_suite(
    path: str | Path,
    overrides: list[str] | None = None,
    results: str | Path = "results",
    warn: Callable[[str], None] | None = None,
    max_jobs: int | None = None,
    **options: Any,
) -> RunSummary:
    """Load, validate and expand a suite file, record its metadata, and run every job
    (`options`: the fields of `RunOptions`, by keyword; `prepare_suite` has the checks).

    A sequential suite (`seeds = { start, step, max }`) is refused here, before anything is
    written: its stages are run by `bench.sequential.runner.run_until_decided`, which
    `bench run` and `bench.run_suite` call.
    """
    prepared = prepare_suite(path, overrides, results, RunOptions(**options), warn, max_jobs, False)
    return run_jobs(prepared.jobs, prepared.store, prepared.options)


def suite_metadata(suite: Suite, path: Path, overrides: list[str]) -> dict:
    """What `results/<suite>/suite.json` records: the design, the reference, the source, and
    the `[expect]` claims by the variant they apply to (`bench.expand.expectations`)."""
    claims = expectations(suite)
    return {
        "name": suite.suite.name,
        "description": suite.suite.description,
        "design": suite.suite.design,
        "reference_variant": reference_variant(suite),
        "seeds": list(suite.suite.seed_list),
        "stages": list(suite.suite.stages.counts) if suite.suite.stages else None,
        "primary_metric": suite.suite.primary_metric,
        "correction": suite.suite.correction,
        "interval": suite.suite.interval,
        "margin": dict(suite.suite.margin),
        "budget": suite.suite.budget,
        "default_margin": default_margins(),
        "exploratory": suite.suite.exploratory,
        "expect": {variant: claim.model_dump() for variant, (_, claim) in claims.items()},
        "ablated_tricks": list(suite.tricks),
        "source_file": str(path),
        "source_text": path.read_text(),
        "overrides": overrides,
    }
