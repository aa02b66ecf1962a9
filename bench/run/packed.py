"""Packed streams: one worker process per GPU trains K jobs at once, one CUDA stream each.

A small GAN leaves a GPU mostly idle; K processes per GPU time-slice it (no MPS), while K
graph-captured jobs replayed on K streams of ONE process overlap (docs/gpu.md has the H100
figures this is built on). Each job runs stepwise (`bench.run.job.job_steps`, one training
iteration per `next()`); `RoundRobin` advances the K slots in turn, each inside its own
stream (made once per slot: torch hands streams out of a pool of 32 per device), and starts
the next pending job in a slot as soon as its job ends. A job whose tricks are not
capturable runs eagerly in its slot: its record's `execution` says so.

A worker that cannot go on exits, and the runner starts a fresh one on its GPU: after a
failed graph capture (`CaptureFailed`: the job runs again, eagerly, in the fresh worker) and
after a job failure that left the CUDA context dead (a sticky error: that job is reported
failed). The jobs its other slots held run again from the start in the fresh worker. Each
restart settles one job, so restarts end.

K comes from memory measured on the GPU (`probe_memory`, in a throwaway process): a short
training run per memory signature of the pending jobs (`memory_signature`), and one
scoring of the heaviest evaluation, which a worker charges once: it scores one job at a
time. The round robin, the restarts and the choice of K are plain Python, tested on CPU
with fake jobs, a fake capture and a fake memory probe.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

import torch

from bench.expand import Job
from bench.run.job import JobRun, job_steps, load, score, train
from bench.run.pending import PendingJobs
from bench.run.placement import GIB, MAX_JOBS_PER_GPU, Placement
from bench.run.scoring import EvaluationPoints
from bench.run.store import ResultsStore
from bench.run.threads import shared_cores
from bench.run.worker import Done, placement_here, record_failure
from bench.run.workers import die_with_parent
from bench.train.capture import WARMUP_ITERATIONS, CaptureFailed
from bench.train.loop import run_to_end

MEMORY_MARGIN = 1.25  # measured peak x this: fragmentation, and jobs a little larger
PROBE_SAMPLES = 1000  # evaluation samples in the memory probe (two batches of 500)
DEAD_CONTEXT = (
    "\nThis worker's CUDA context was unusable after this error (a sticky CUDA error): the "
    "worker exited, and the jobs its other slots held ran again in a fresh one.\n"
)

Steps = Iterator[None]
Finished = Callable[[Any, dict[str, Any] | None, BaseException | None], None]


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


class RoundRobin:
    """K slots, each training one job; every round advances each busy slot one iteration.

    `take()` gives the next job (None: no more), `start(job, slot)` its stepwise run (a
    generator returning the job's record), `stream(slot)` the context each of the slot's
    steps runs in (its CUDA stream), and `finished(job, record, error)` is called once per
    job, with the exception if its run raised (the other slots go on, unless `finished`
    raises; `held()` then names the jobs still in their slots).
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

    def held(self) -> list[Any]:
        """The jobs in their slots now, unfinished."""
        return [active[0] for active in self.active if active is not None]

    def _advance(self, slot: int) -> None:
        job, steps = self.active[slot]
        with self.stream(slot):
            try:
                next(steps)
                return
            except StopIteration as end:
                record, error = end.value, None
            except Exception as err:  # one job's failure never stops its neighbours
                record, error = None, err
        self.active[slot] = None
        self.finished(job, record, error)


def packed_jobs_per_gpu(
    free_bytes: list[int] | None,
    job_bytes: int | None,
    scoring_bytes: int = 0,
    cap: int = MAX_JOBS_PER_GPU,
) -> tuple[int, str]:
    """K, the jobs packed on each GPU, and why: what the least free memory leaves after one
    scoring (a worker scores one job at a time) over the training memory of the heaviest job,
    both with `MEMORY_MARGIN`; at most `cap`, at least 1."""
    if not free_bytes or not job_bytes:
        return cap, f"automatic, at most {cap} per GPU (memory not measured)"
    per_job, scoring = int(job_bytes * MEMORY_MARGIN), int(scoring_bytes * MEMORY_MARGIN)
    fit = (min(free_bytes) - scoring) // per_job
    if fit >= cap:
        return cap, f"automatic, at most {cap} per GPU"
    measured = (
        f"{min(free_bytes) / GIB:.1f} GiB free at {per_job / GIB:.2f} GiB a job "
        f"+ {scoring / GIB:.2f} GiB to score one"
    )
    return max(1, fit), f"automatic, bound by {measured} (measured)"


def memory_signature(job: Job) -> str:
    """What a job's training memory depends on: its data (channels, image size), nets, batch
    size and tricks with their parameters. Jobs that differ only in seed, learning rates or
    length share a signature, and one probe."""
    c = job.config
    return json.dumps(
        {
            "data": [c.data.name, c.data.image_size],
            "model": c.model.model_dump(mode="json"),
            "batch": c.train.batch_size,
            "tricks": c.tricks,
        },
        sort_keys=True,
        default=str,
    )


def by_signature(jobs: Iterable[Job]) -> dict[str, Job]:
    """One job of each memory signature, in the order they first appear."""
    found: dict[str, Job] = {}
    for job in jobs:
        found.setdefault(memory_signature(job), job)
    return found


def heaviest_evaluation(jobs: list[Job]) -> Job:
    """The job whose scoring likely needs the most memory: most samples, largest images."""
    return max(jobs, key=lambda job: (job.config.eval.num_samples, job.config.data.image_size or 0))


def probe_job(job: Job) -> Job:
    """A short copy of `job` that still meets its memory peaks: a few iterations (captured
    when it would be) and, when scored, one evaluation of at most `PROBE_SAMPLES` samples."""
    c = job.config
    steps = WARMUP_ITERATIONS + 2
    train_cfg = c.train.model_copy(update={"steps": steps, "log_every": steps})
    evaluation = c.eval.model_copy(
        update={"every": None, "at": (), "num_samples": min(c.eval.num_samples, PROBE_SAMPLES)}
    )
    config = c.model_copy(update={"train": train_cfg, "eval": evaluation})
    return Job(job.suite, job.variant, job.seed, config, job.tricks)


@dataclass(frozen=True)
class JobMemory:
    """Peak CUDA memory (bytes) a job adds while training, and what scoring it adds on top."""

    training: int
    scoring: int


def measure_job(job: Job, capture: bool = True, scored: bool = True) -> JobMemory:
    """`JobMemory` of a probe run of `job` (`probe_job`) on GPU 0 of this process; scoring is
    measured only when `scored`. Run in a throwaway process: it starts CUDA."""
    device = torch.device("cuda")
    torch.cuda.init()
    with tempfile.TemporaryDirectory() as scratch:
        probe, run = probe_job(job), JobRun(ResultsStore(scratch), device, capture=capture)
        gc.collect()
        torch.cuda.synchronize()
        torch.cuda.empty_cache()  # so that the probe cannot reuse blocks cached before it
        before = torch.cuda.memory_reserved()
        torch.cuda.reset_peak_memory_stats()
        loaded = load(probe, run)
        points = EvaluationPoints(probe, loaded.dataset, device, None)
        outcome = run_to_end(train(probe, loaded, run, points))
        training = torch.cuda.max_memory_reserved() - before
        if scored:
            score(probe, loaded, outcome, points, device)
        total = torch.cuda.max_memory_reserved() - before
        del loaded, points, outcome
    return JobMemory(training, max(0, total - training))


def probe_memory(jobs: list[Job], capture: bool) -> tuple[list[int], dict[str, int], int]:
    """Free bytes on each visible GPU; the training bytes of each memory signature among
    `jobs`; the scoring bytes of the heaviest evaluation (measured once: a worker scores one
    job at a time)."""
    free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
    training: dict[str, int] = {}
    for signature, job in by_signature(jobs).items():
        training[signature] = measure_job(job, capture, scored=False).training
    scoring = measure_job(heaviest_evaluation(jobs), capture).scoring if jobs else 0
    return free, training, scoring


def measured_jobs_per_gpu(pending: list[Job] | None, capture: bool) -> tuple[int, str]:
    """`packed_jobs_per_gpu` from the free memory of the fullest GPU, the training memory of
    the heaviest pending signature and one scoring, measured by short runs in a throwaway
    process (it starts CUDA; this process never does)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as probe:
        free, training, scoring = probe.submit(probe_memory, pending or [], capture).result()
    k, reason = packed_jobs_per_gpu(free, max(training.values(), default=None), scoring)
    if training:
        reason += f"; {len(training)} job signature{'s' * (len(training) != 1)} probed"
    return k, reason


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

    def start(task: Task, slot: int) -> Steps:
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
    (None: the cores shared out per GPU, `bench.run.threads`)."""
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
