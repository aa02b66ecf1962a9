"""K, the jobs packed on each GPU: what the least free memory leaves for them, as measured.

A small GAN leaves a GPU mostly idle, so a packed worker trains K jobs at once
(`bench.run.executors.packed`). K is chosen from memory measured on the GPU by short runs
(`bench.run.executors.memory_probe`), in a throwaway process, so that this one never starts
CUDA. The choice itself is plain Python, tested on CPU with a fake memory probe.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from bench.expand import Job
from bench.run.executors.memory_probe import probe_memory
from bench.run.executors.placement import GIB, MAX_JOBS_PER_GPU

MEMORY_MARGIN = 1.25  # measured peak x this: fragmentation, and jobs a little larger


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
