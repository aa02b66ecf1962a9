"""Run jobs as Ray tasks, one task per job, on a Ray cluster or a local one started here.

On GPUs each task asks for `1 / jobs_per_gpu` of a GPU, so Ray packs several jobs on each
card; on CPUs each task asks for one core. Tasks write to the same results store as the
local runner, so the store must be on a filesystem every node sees (or run per node and
combine the folders with `bench merge`). Ray is optional: `pip install 'gan-bench[ray]'`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.errors import ConfigError
from bench.expand import Job
from bench.run.executors.placement import auto_jobs_per_gpu
from bench.run.job.entry import execute_job, record_failure
from bench.run.store.pending import PendingJobs
from bench.run.store.results import ResultsStore

INSTALL_HINT = "pip install 'gan-bench[ray]'"


def require_ray() -> ModuleType:
    """The `ray` module, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"--executor ray needs Ray, which is not installed here: {INSTALL_HINT}"
        ) from None
    return ray


def task_resources(
    device: str, cluster: dict[str, float], jobs_per_gpu: int | None
) -> tuple[str, dict[str, float], str]:
    """(device the task uses, its Ray resources, a description) for a cluster's resources.

    A GPU task runs in a fresh process (`max_calls=1`): a failed graph capture or a sticky
    CUDA error can leave a process's CUDA context unusable, and Ray would reuse it."""
    gpus = int(cluster.get("GPU", 0))
    if device == "cpu" or (device == "auto" and not gpus):
        return "cpu", {"num_cpus": 1}, f"{int(cluster.get('CPU', 0))} CPUs, 1 per job"
    if not gpus:
        raise ConfigError("--device cuda: the Ray cluster has no GPUs; use --device cpu")
    if jobs_per_gpu is None:
        jobs_per_gpu, reason = auto_jobs_per_gpu(None, int(cluster.get("CPU", 1)), gpus)
    else:
        reason = "--jobs-per-gpu"
    text = f"{gpus} GPUs x {jobs_per_gpu} jobs per GPU ({reason})"
    return "cuda", {"num_cpus": 1, "num_gpus": 1 / jobs_per_gpu, "max_calls": 1}, text


def run_on_ray(
    queue: PendingJobs,
    root: Path,
    device: str,
    jobs_per_gpu: int | None,
    address: str | None,
    capture: bool = True,
    threads: int = 1,
) -> None:
    """Run the jobs of `queue` as Ray tasks, each once this driver holds its claim, with
    `threads` torch threads each."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    try:
        device_name, resources, text = task_resources(device, ray.cluster_resources(), jobs_per_gpu)
        queue.describe(f"jobs [ray: {text}]")
        task = ray.remote(execute_job).options(**resources)
        results = str(root.resolve())
        in_flight: dict[Any, Job] = {}
        try:
            while True:
                while (job := queue.take()) is not None:
                    in_flight[task.remote(job, results, device_name, threads, "ray")] = job
                if not in_flight:
                    if queue.exhausted:
                        return
                    queue.wait()
                    continue
                timeout = None if queue.exhausted else queue.poll_s
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=timeout)
                for ref in ready:
                    job = in_flight.pop(ref)
                    queue.finish(job, _status(ray, ref, job, ResultsStore(results)))
        except KeyboardInterrupt:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


def _status(ray: ModuleType, ref: Any, job: Job, store: ResultsStore) -> str:
    """A finished task's status; a task Ray lost (worker or node died) counts as failed."""
    try:
        return ray.get(ref)
    except Exception:
        record_failure(store, job)
        return "failed"
