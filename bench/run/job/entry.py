"""What every executor shares: the worker entry point that runs one job, and its failure file.

The in-process loop, the CPU worker pool (`bench.run.executors.local`), the packed GPU workers
(`bench.run.executors.packed`), Ray tasks (`bench.run.executors.ray_tasks`) and tuning trials
(`bench.tune.objective`) all run a job through here or record its failure here: a job that
raises leaves its traceback in `error.txt` in its folder, and has no result.
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable
from typing import Any

import torch

from bench.atomic import atomic_write_bytes
from bench.expand import Job
from bench.run.job.device import resolve_device
from bench.run.job.phases import run_job
from bench.run.store.results import ERROR_FILE, ResultsStore

Done = Callable[[Job, str], None]  # called once per job with its status


def record_failure(store: ResultsStore, job: Job, text: str | None = None) -> str:
    """Write `text` (default: the exception being handled) to the job's `error.txt`; its path."""
    path = store.job_dir(job.suite, job.id) / ERROR_FILE
    atomic_write_bytes(path, (traceback.format_exc() if text is None else text).encode())
    return str(path)


def placement_here(executor: str, gpu: str | None) -> dict[str, Any]:
    """Where a job runs, as its record's `execution` says: executor, host, process, GPU."""
    return {"executor": executor, "host": socket.gethostname(), "worker": os.getpid(), "gpu": gpu}


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
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES") if device.type == "cuda" else None
    try:
        record = run_job(
            job, store, device, placement=placement_here(executor, gpu), capture=capture
        )
    except Exception:
        record_failure(store, job)
        return "failed"
    return record["status"]
