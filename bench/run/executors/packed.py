"""Packed streams: the executor that trains K jobs at once on each GPU, one worker per GPU.

It starts one worker process per GPU (`bench.run.executors.packed_worker`; K from
`bench.run.executors.jobs_per_gpu`), hands them the jobs this runner has claimed through one
shared queue, and starts a fresh worker on a GPU whose worker gave up. The restarts are plain
Python, tested on CPU with fake workers.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty
from typing import Any

from bench.expand import Job
from bench.run.executors.packed_worker import Task, packed_worker
from bench.run.executors.placement import Placement
from bench.run.executors.threads import shared_cores
from bench.run.job.entry import Done, record_failure
from bench.run.store.pending import PendingJobs
from bench.run.store.results import ResultsStore


def collect(
    results: Any, expecting: Callable[[], bool], alive: Callable[[], bool], poll_s: float = 1.0
) -> Iterator[tuple]:
    """Messages from the workers' result queue while `expecting()`, until every worker has
    exited without sending the rest (those jobs are then reported failed)."""
    while expecting():
        try:
            yield results.get(timeout=poll_s)
        except Empty:
            if not alive() and results.empty():
                return


def run_packed_claimed(
    queue: PendingJobs,
    root: Path,
    placement: Placement,
    capture: bool = True,
    threads: int | None = None,
) -> None:
    """`_run_packed` over every job this runner can claim now, again for jobs released later."""
    while not queue.exhausted:
        claimed = list(iter(queue.take, None))
        if claimed:
            _run_packed(
                claimed,
                root,
                placement,
                queue.finish,
                capture,
                note=queue.notes.append,
                threads=threads,
            )
        elif not queue.exhausted:
            queue.wait()


def _run_packed(
    pending: list[Job],
    root: Path,
    placement: Placement,
    done: Done,
    capture: bool,
    device_name: str = "cuda",
    note: Callable[[str], None] = lambda text: None,
    worker: Callable[..., None] = packed_worker,
    threads: int | None = None,
) -> None:
    """One worker process per GPU, each training its slots' jobs on streams, taking the next
    pending job from a shared queue whenever a slot frees up; a worker that gives up is
    replaced by a fresh one on its GPU (`note` is told why). `worker` is the process's
    target (tests pass one that fakes a failed capture); `threads`: torch threads per worker
    (None: the cores shared out per GPU, `bench.run.executors.threads`)."""
    slots = Counter(placement.workers)
    context = multiprocessing.get_context("spawn")
    jobs, results = context.Queue(), context.Queue()
    for job in pending:  # every job before every end marker: a worker that sees None is done
        jobs.put(Task(job))
    for _ in slots:
        jobs.put(None)
    threads = threads or shared_cores(len(slots))

    def launch(gpu: str, retry: list[Task]) -> Any:
        args = (gpu, slots[gpu], jobs, results, str(root), capture, threads, device_name, retry)
        process = context.Process(target=worker, args=args)
        process.start()
        return process

    workers = {gpu: launch(gpu, []) for gpu in slots}
    waiting = {job.id: job for job in pending}
    try:
        alive = lambda: any(worker.is_alive() for worker in workers.values())  # noqa: E731
        for message in collect(results, lambda: bool(waiting), alive):
            if message[0] == "done":
                done(waiting.pop(message[1]), message[2])
                continue
            _, gpu, retry, why = message
            _stop(workers[gpu])
            jobs.put(None)  # the fresh worker's end marker (a spare one is harmless)
            note(f"GPU {gpu or 0}: a fresh worker process took over ({why})")
            workers[gpu] = launch(gpu, [Task(waiting[id_], eager) for id_, eager in retry])
        for job in waiting.values():  # a worker process died (out of memory, killed)
            text = "its GPU worker process exited before the job ended\n"
            record_failure(ResultsStore(root), job, text)
            done(job, "failed")
    finally:
        for process in workers.values():
            _stop(process)


def _stop(process: Any) -> None:
    """Wait a little for `process` to exit, then end it."""
    process.join(timeout=5)
    if process.is_alive():
        process.terminate()
        process.join()
