"""Run jobs on this machine's CPUs: in this process, or in a pool of worker processes.

A job that raises, or whose worker process dies, is recorded in `error.txt` in its folder
and the others go on; it has no result, so the next run retries it. Each job is taken from
the runner's `PendingJobs` (claimed first), so runners sharing a results folder split the
work; while the jobs left are claimed by other runners, this one waits for them.
"""

from __future__ import annotations

from pathlib import Path

from bench.run.executors.placement import Placement
from bench.run.executors.process_pool import Outcome, WorkerPool
from bench.run.executors.threads import shared_cores
from bench.run.job.entry import execute_job, record_failure
from bench.run.store.pending import PendingJobs
from bench.run.store.results import ResultsStore

DEVICE = "cpu"


def run_on_cpus(
    queue: PendingJobs,
    root: Path,
    placement: Placement,
    capture: bool = True,
    threads: int | None = None,
) -> None:
    """Run every job of `queue`: in this process for one worker, else in a worker pool, with
    `threads` torch threads per worker (None: torch's default in this process, the cores
    shared out in a pool; see `bench.run.executors.threads`)."""
    if placement.workers == (None,):
        while not queue.exhausted:
            job = queue.take()
            if job is None:
                queue.wait()
                continue
            queue.finish(job, execute_job(job, str(root), DEVICE, threads or 0, capture=capture))
        return
    threads = threads or shared_cores(len(placement.workers))
    with WorkerPool(placement.workers) as pool:
        while True:
            for slot in pool.idle_slots():
                job = queue.take()
                if job is None:
                    break
                pool.submit(slot, job, execute_job, job, str(root), DEVICE, threads)
            if not pool.busy and queue.exhausted:
                return
            polling = not queue.exhausted and pool.idle_slots()
            if polling:
                queue.show_waiting()
            for outcome in pool.wait(queue.poll_s if polling else None):
                queue.finish(outcome.tag, worker_status(outcome, root))


def worker_status(outcome: Outcome, root: Path) -> str:
    """A pool task's job status; a worker that died or raised leaves an `error.txt`."""
    if outcome.kind == "done":
        return outcome.value
    job, store = outcome.tag, ResultsStore(root)
    record = store.finished_record(job.suite, job.id)
    if record is not None and "status" in record:  # the worker died after writing the result
        return record["status"]
    if outcome.kind == "died":
        text = f"{outcome.value.describe()} while it ran this job; the job has no result and "
        text += "runs again when the same command is run again\n"
    else:
        text = outcome.value
    record_failure(store, job, text)
    return "failed"
