"""A packed worker process: one per GPU, training K jobs at once, one CUDA stream each.

K graph-captured jobs replayed on K streams of ONE process overlap, where K processes per GPU
would time-slice it (no MPS; docs/gpu.md has the H100 figures this is built on). The worker
runs its slots in a `RoundRobin`, each slot inside its own stream (made once per slot: torch
hands streams out of a pool of 32 per device). A job whose tricks are not capturable runs
eagerly in its slot: its record's `execution` says so.

A worker that cannot go on exits and says why (`Abandoned`): after a failed graph capture
(`CaptureFailed`: the job runs again, eagerly, in a fresh worker) and after a job failure that
left the CUDA context dead (a sticky error: that job is reported failed). The jobs its other
slots held run again from the start in the fresh worker. Each restart settles one job, so
restarts end. Tested on CPU with a fake capture.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch

from bench.expand import Job
from bench.run.executors.process_pool import die_with_parent
from bench.run.executors.round_robin import JobSteps, RoundRobin
from bench.run.job.entry import placement_here, record_failure
from bench.run.job.phases import JobRun, job_steps
from bench.run.store.results import ResultsStore
from bench.train.capture import CaptureFailed

DEAD_CONTEXT = (
    "\nThis worker's CUDA context was unusable after this error (a sticky CUDA error): the "
    "worker exited, and the jobs its other slots held ran again in a fresh one.\n"
)


@dataclass(frozen=True)
class Task:
    """A job for a packed worker; `eager` says why it runs eagerly (its capture failed in an
    earlier worker), None to run it as chosen."""

    job: Job
    eager: str | None = None


class Abandoned(Exception):
    """A packed worker cannot go on; `retry` are tasks to run again in a fresh worker."""

    def __init__(self, why: str, retry: list[Task]) -> None:
        super().__init__(why)
        self.why, self.retry = why, retry


def context_alive(device: torch.device) -> bool:
    """Whether `device` still works in this process. A sticky CUDA error (an illegal address,
    a device-side assert) leaves the context dead: every later call fails."""
    if device.type != "cuda":
        return True
    try:
        torch.cuda.synchronize()
        torch.ones(1, device=device).add_(1).sum().item()
    except Exception:  # the error type varies (RuntimeError, torch.AcceleratorError)
        return False
    return True


def packed_worker(
    gpu: str,
    slots: int,
    jobs: Any,
    results: Any,
    root: str,
    capture: bool,
    threads: int,
    device_name: str = "cuda",
    retry: list[Task] | None = None,
) -> None:
    """A GPU's worker process: train `retry`, then tasks from `jobs` (a queue; None ends it),
    `slots` at a time, one CUDA stream each. Puts `("done", job id, status)` on `results` as
    each job ends, or, when it cannot go on, `("restart", gpu, [(job id, eager reason)],
    why)` and exits. (`device_name="cpu"` runs the same round robin without streams.)"""
    die_with_parent(os.getppid())  # the runner: no orphaned GPU workers
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # before anything here starts CUDA
    torch.set_num_threads(threads)
    device, store = torch.device(device_name), ResultsStore(root)
    cuda = device.type == "cuda"
    streams = [torch.cuda.Stream() if cuda else None for _ in range(slots)]  # one per slot
    where = placement_here("local", gpu)
    first = list(retry or [])

    def take() -> Task | None:
        return first.pop(0) if first else jobs.get()

    def start(task: Task, slot: int) -> JobSteps:
        placement = {**where, "stream": slot, "packed": slots}
        run = JobRun(store, device, placement=placement, capture=capture, eager=task.eager)
        return job_steps(task.job, run)

    def finished(task: Task, record: dict[str, Any] | None, error: BaseException | None) -> None:
        if error is None:
            results.put(("done", task.job.id, record["status"]))
            return
        if isinstance(error, CaptureFailed):
            again = f"{error.reason}; rerun eagerly from the start in a fresh worker process"
            raise Abandoned(f"job {task.job.id}: {error.reason}", [Task(task.job, again)])
        text = "".join(traceback.format_exception(error))
        if not context_alive(device):
            record_failure(store, task.job, text + DEAD_CONTEXT)
            results.put(("done", task.job.id, "failed"))
            raise Abandoned(f"job {task.job.id} left the CUDA context dead", [])
        record_failure(store, task.job, text)
        results.put(("done", task.job.id, "failed"))

    def stream(slot: int) -> AbstractContextManager:
        return torch.cuda.stream(streams[slot]) if cuda else contextlib.nullcontext()

    robin = RoundRobin(slots, take, start, finished, stream)
    try:
        robin.run()
    except Abandoned as end:
        retry_ids = [(task.job.id, task.eager) for task in [*end.retry, *robin.held(), *first]]
        results.put(("restart", gpu, retry_ids, end.why))
