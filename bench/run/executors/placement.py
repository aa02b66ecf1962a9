"""Where jobs run on one machine: job slots, and the GPU each one is pinned to.

Pure functions of the machine's inventory (GPU ids, free memory, CPU cores), so they are
tested on CPU with made-up machines. A small GAN is launch-bound, so one job per GPU leaves
the card mostly idle; the local runner packs K jobs on each GPU as CUDA streams of one
process (`bench.run.executors.packed`; `bench.run.executors.jobs_per_gpu` chooses K from a
job's measured memory), Ray as fractional GPUs (docs/gpu.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GIB = 1 << 30
MAX_JOBS_PER_GPU = 16  # the most measured: 16 jobs, 7.0x one at a time on an H200 (docs/gpu.md)


@dataclass(frozen=True)
class Placement:
    """One entry per job slot: the GPU it runs on (None: a CPU worker process)."""

    workers: tuple[str | None, ...]
    jobs_per_gpu: int | None = None
    reason: str = ""

    def describe(self) -> str:
        count = len(self.workers)
        if self.jobs_per_gpu is None:
            return f"{count} CPU worker{'s' * (count != 1)}"
        gpus = len(set(self.workers))
        return f"{count} job slots on {gpus} GPUs, {self.jobs_per_gpu} per GPU ({self.reason})"


def visible_gpu_ids(cuda_visible_devices: str | None, count: int) -> list[str]:
    """The ids to put in a worker's `CUDA_VISIBLE_DEVICES`, one per GPU this process sees.

    Respects the parent's own `CUDA_VISIBLE_DEVICES` (e.g. "2,3" -> ["2", "3"]), so a
    worker pinned to the parent's GPU 1 sees physical GPU 3.
    """
    if cuda_visible_devices is None or not cuda_visible_devices.strip():
        return [str(i) for i in range(count)]
    ids = [part.strip() for part in cuda_visible_devices.split(",") if part.strip()]
    return ids[:count]


def auto_jobs_per_gpu(
    free_bytes: Sequence[int] | None,
    cpu_cores: int,
    gpus: int,
    job_bytes: int | None = None,
    cap: int = MAX_JOBS_PER_GPU,
) -> tuple[int, str]:
    """How many job processes to put on each GPU (Ray), and why: bounded by CPU cores, `cap`
    and, when both are known, memory (`free_bytes` per GPU over a measured `job_bytes`).

    Each worker is a process that launches kernels from its own CPU core, so the cores are
    shared among the GPUs.
    """
    bounds = {f"at most {cap} per GPU": cap, f"{cpu_cores} CPU cores": cpu_cores // max(gpus, 1)}
    if free_bytes and job_bytes:
        least = min(free_bytes)
        bounds[f"{least / GIB:.0f} GiB free at {job_bytes / GIB:.1f} GiB a job"] = (
            least // job_bytes
        )
    binding = min(bounds, key=bounds.__getitem__)
    return max(1, bounds[binding]), f"automatic, bound by {binding}"


def plan_placement(
    gpu_ids: Sequence[str],
    workers: int | None = None,
    jobs_per_gpu: int | None = None,
    free_bytes: Sequence[int] | None = None,
    cpu_cores: int = 1,
) -> Placement:
    """The job slots of this machine.

    Without GPUs: `workers` CPU workers (default 1). With GPUs: `jobs_per_gpu` slots per
    GPU (automatic when None), at most `workers` in all when given, dealt round-robin so
    that a short suite still spreads over every GPU.
    """
    if not gpu_ids:
        return Placement(workers=(None,) * (workers or 1))
    if jobs_per_gpu is None:
        jobs_per_gpu, reason = auto_jobs_per_gpu(free_bytes, cpu_cores, len(gpu_ids))
    else:
        reason = "--jobs-per-gpu"
    slots = [gpu for _ in range(jobs_per_gpu) for gpu in gpu_ids]
    if workers is not None:
        slots = slots[:workers]
    return Placement(workers=tuple(slots), jobs_per_gpu=jobs_per_gpu, reason=reason)
