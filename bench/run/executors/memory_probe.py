"""Measuring the GPU memory a job needs, by a short run of it, to choose how many jobs to pack.

A short training run per memory signature of the pending jobs (`memory_signature`), and one
scoring of the heaviest evaluation, which a worker charges once: it scores one job at a time.
Run in a throwaway process (`bench.run.executors.jobs_per_gpu`): it starts CUDA.
"""

from __future__ import annotations

import gc
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from bench.expand import Job
from bench.run.job.phases import JobRun, load, score, train
from bench.run.job.scoring import EvaluationPoints
from bench.run.store.results import ResultsStore
from bench.train.capture import WARMUP_ITERATIONS
from bench.train.loop import run_to_end

PROBE_SAMPLES = 1000  # evaluation samples in the memory probe (two batches of 500)


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
