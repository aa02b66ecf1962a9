"""Packed streams: one worker process per GPU trains K jobs at once, one CUDA stream each.

A small GAN leaves a GPU mostly idle; K processes per GPU time-slice it (no MPS), while K
graph-captured jobs replayed on K streams of ONE process overlap (docs/gpu.md has the H100
figures this is built on). Each job runs stepwise (`bench.run.job.job_steps`, one training
iteration per `next()`); `RoundRobin` advances the K slots in turn, each inside its own
stream, and starts the next pending job in a slot as soon as its job ends. A job whose
tricks are not capturable runs eagerly in its slot: its record's `execution` says so.

K comes from memory measured on the GPU (`measure_job_bytes`: a short run of the suite's
heaviest job, in a throwaway process) and the `MAX_JOBS_PER_GPU` cap. The round robin and
the choice of K are plain Python, tested on CPU with fake jobs and a fake memory probe.
The runner (`run_packed_claimed`) starts one worker process per GPU for every batch of jobs
it can claim; a job whose worker process dies is recorded as failed in its `error.txt`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from queue import Empty
from typing import Any

import torch

from bench.expand import Job
from bench.run.job import JobRun, job_steps, run_job
from bench.run.pending import PendingJobs
from bench.run.placement import GIB, MAX_JOBS_PER_GPU, Placement
from bench.run.store import ResultsStore
from bench.run.worker import Done, placement_here, record_failure
from bench.run.workers import die_with_parent
from bench.train.capture import WARMUP_ITERATIONS

MEMORY_MARGIN = 1.25  # measured peak x this: fragmentation, and jobs a little larger
PROBE_SAMPLES = 1000  # evaluation samples in the memory probe (two batches of 500)

Steps = Iterator[None]
Finished = Callable[[Job, dict[str, Any] | None, BaseException | None], None]


class RoundRobin:
    """K slots, each training one job; every round advances each busy slot one iteration.

    `take()` gives the next job (None: no more), `start(job, slot)` its stepwise run (a
    generator returning the job's record), `stream(slot)` the context each of the slot's
    steps runs in (its CUDA stream), and `finished(job, record, error)` is called once per
    job, with the exception if its run raised (the other slots go on).
    """

    def __init__(
        self,
        slots: int,
        take: Callable[[], Job | None],
        start: Callable[[Job, int], Steps],
        finished: Finished,
        stream: Callable[[int], AbstractContextManager] = lambda slot: contextlib.nullcontext(),
    ) -> None:
        self.slots, self.take, self.start = slots, take, start
        self.finished, self.stream = finished, stream
        self.active: list[tuple[Job, Steps] | None] = [None] * slots

    def run(self) -> None:
        more = True
        while more or any(self.active):
            for slot in range(self.slots):
                if self.active[slot] is None and more:
                    job = self.take()
                    more = job is not None
                    if job is not None:
                        self.active[slot] = (job, self.start(job, slot))
                if self.active[slot] is not None:
                    self._advance(slot)

    def _advance(self, slot: int) -> None:
        job, steps = self.active[slot]
        with self.stream(slot):
            try:
                next(steps)
                return
            except StopIteration as end:
                self.finished(job, end.value, None)
            except Exception as err:  # one job's failure never stops its neighbours
                self.finished(job, None, err)
        self.active[slot] = None


def packed_jobs_per_gpu(
    free_bytes: list[int] | None, job_bytes: int | None, cap: int = MAX_JOBS_PER_GPU
) -> tuple[int, str]:
    """K, the jobs packed on each GPU, and why: the least free memory over the measured
    memory of one job (with `MEMORY_MARGIN`), at most `cap`, at least 1."""
    if not free_bytes or not job_bytes:
        return cap, f"automatic, at most {cap} per GPU (memory not measured)"
    per_job = int(job_bytes * MEMORY_MARGIN)
    fit = min(free_bytes) // per_job
    if fit >= cap:
        return cap, f"automatic, at most {cap} per GPU"
    measured = f"{min(free_bytes) / GIB:.1f} GiB free at {per_job / GIB:.2f} GiB a job"
    return max(1, fit), f"automatic, bound by {measured} (measured)"


def heaviest(jobs: list[Job]) -> Job:
    """The job likely to need the most memory: largest batch x net widths x image size."""

    def weight(job: Job) -> tuple[int, int]:
        c = job.config
        size = c.model.g_width + c.model.d_width
        return c.train.batch_size * size, c.eval.num_samples

    return max(jobs, key=weight)


def probe_job(job: Job) -> Job:
    """A short copy of `job` that still meets its memory peaks: a few iterations (captured
    when it would be) and one evaluation of `PROBE_SAMPLES` samples."""
    c = job.config
    steps = WARMUP_ITERATIONS + 2
    train = c.train.model_copy(update={"steps": steps, "log_every": steps})
    evaluation = c.eval.model_copy(
        update={"every": None, "num_samples": min(c.eval.num_samples, PROBE_SAMPLES)}
    )
    config = c.model_copy(update={"train": train, "eval": evaluation})
    return Job(job.suite, job.variant, job.seed, config)


def measure_job_bytes(job: Job, capture: bool = True) -> int:
    """Peak CUDA memory one job adds in a process (bytes): a probe run of `job` on GPU 0 of
    this process. Run in a throwaway process: it starts CUDA."""
    device = torch.device("cuda")
    torch.cuda.init()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()  # so that the probe cannot reuse blocks cached before it
    before = torch.cuda.memory_reserved()
    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as scratch:
        run_job(probe_job(job), ResultsStore(scratch), device, capture=capture)
    return torch.cuda.max_memory_reserved() - before


def free_memory_and_job_bytes(job: Job | None, capture: bool) -> tuple[list[int], int | None]:
    """Free bytes on each visible GPU, and the measured bytes of `job` (None: not measured)."""
    free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
    return free, None if job is None else measure_job_bytes(job, capture)


def measured_jobs_per_gpu(pending: list[Job] | None, capture: bool) -> tuple[int, str]:
    """`packed_jobs_per_gpu` from the free memory of the fullest GPU and the memory of the
    heaviest pending job, measured by a short run of it in a throwaway process (it starts
    CUDA; this process never does)."""
    spawn = multiprocessing.get_context("spawn")
    job = heaviest(pending) if pending else None
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as probe:
        free, job_bytes = probe.submit(free_memory_and_job_bytes, job, capture).result()
    return packed_jobs_per_gpu(free, job_bytes)


def packed_worker(
    gpu: str,
    slots: int,
    jobs: Any,
    results: Any,
    root: str,
    capture: bool,
    threads: int,
    device_name: str = "cuda",
) -> None:
    """A GPU's worker process: train jobs from `jobs` (a queue; None ends it) `slots` at a
    time, one CUDA stream each; put `(job id, status)` on `results` as each one ends.
    (`device_name="cpu"` runs the same round robin without streams, for tests.)"""
    die_with_parent(os.getppid())  # the runner: no orphaned GPU workers
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # before anything here starts CUDA
    torch.set_num_threads(threads)
    device, store = torch.device(device_name), ResultsStore(root)
    cuda = device.type == "cuda"
    streams = [torch.cuda.Stream() if cuda else None for _ in range(slots)]
    where = placement_here("local", gpu)

    def start(job: Job, slot: int) -> Steps:
        placement = {**where, "stream": slot, "packed": slots}
        return job_steps(job, JobRun(store, device, placement=placement, capture=capture))

    def finished(job: Job, record: dict[str, Any] | None, error: BaseException | None) -> None:
        if error is not None:
            record_failure(store, job, "".join(traceback.format_exception(error)))
        results.put((job.id, "failed" if record is None else record["status"]))

    def stream(slot: int) -> AbstractContextManager:
        return torch.cuda.stream(streams[slot]) if cuda else contextlib.nullcontext()

    RoundRobin(slots, jobs.get, start, finished, stream).run()


def collect(
    results: Any, expected: int, alive: Callable[[], bool], poll_s: float = 1.0
) -> Iterator[tuple[str, str]]:
    """`(job id, status)` from the workers' result queue until `expected` came, or until
    every worker has exited without sending the rest (those are then reported failed)."""
    received = 0
    while received < expected:
        try:
            item = results.get(timeout=poll_s)
        except Empty:
            if not alive():
                return
            continue
        received += 1
        yield item


def run_packed_claimed(
    queue: PendingJobs, root: Path, placement: Placement, capture: bool = True
) -> None:
    """`_run_packed` over every job this runner can claim now, again for jobs released later."""
    while not queue.exhausted:
        claimed = list(iter(queue.take, None))
        if claimed:
            _run_packed(claimed, root, placement, queue.finish, capture)
        elif not queue.exhausted:
            queue.wait()


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
            text = "its GPU worker process exited before the job ended\n"
            record_failure(ResultsStore(root), job, text)
            done(job, "failed")
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join()
