"""Placing worker processes on GPUs: every GPU used, several jobs each, on made-up machines."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from bench.run.executors.placement import GIB, MAX_JOBS_PER_GPU, auto_jobs_per_gpu, plan_placement
from bench.run.executors.placement import visible_gpu_ids as visible
from bench.run.executors.process_pool import WorkerPool


def test_visible_gpu_ids_follow_the_parents_own_restriction() -> None:
    assert visible(None, 3) == ["0", "1", "2"]
    assert visible("", 2) == ["0", "1"]
    assert visible("2, 3", 2) == ["2", "3"]
    assert visible("GPU-ab12,GPU-cd34", 1) == ["GPU-ab12"]


def test_cpu_runs_the_requested_number_of_workers() -> None:
    assert plan_placement([]).workers == (None,)
    cpu = plan_placement([], workers=3)
    assert cpu.workers == (None, None, None) and cpu.jobs_per_gpu is None
    assert cpu.describe() == "3 CPU workers"


def test_every_gpu_gets_jobs_per_gpu_workers_dealt_round_robin() -> None:
    placement = plan_placement(["0", "1"], jobs_per_gpu=3)
    assert placement.workers == ("0", "1", "0", "1", "0", "1")
    assert Counter(placement.workers) == {"0": 3, "1": 3}
    assert placement.describe() == "6 job slots on 2 GPUs, 3 per GPU (--jobs-per-gpu)"


def test_a_worker_cap_still_spreads_over_every_gpu() -> None:
    assert plan_placement(["0", "1", "2"], workers=4, jobs_per_gpu=8).workers == (
        "0", "1", "2", "0",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("free", "cores", "gpus", "expected", "bound"),
    [
        ([80 * GIB], 64, 1, MAX_JOBS_PER_GPU, "at most"),
        ([80 * GIB, 80 * GIB], 16, 2, 8, "16 CPU cores"),
        ([80 * GIB, 9 * GIB], 64, 2, 3, "9 GiB free"),  # the fullest GPU decides
        ([1 * GIB], 64, 1, 1, "1 GiB free"),  # never below one
        (None, 12, 4, 3, "12 CPU cores"),  # memory unknown (e.g. a Ray cluster)
    ],
)
def test_automatic_jobs_per_gpu_is_bound_by_memory_cores_and_cap(
    free: list[int] | None, cores: int, gpus: int, expected: int, bound: str
) -> None:
    jobs, reason = auto_jobs_per_gpu(free, cores, gpus, job_bytes=3 * GIB)
    assert jobs == expected
    assert reason.startswith("automatic, bound by") and bound in reason


def test_automatic_placement_on_a_made_up_machine() -> None:
    placement = plan_placement(["0", "1", "2", "3"], free_bytes=[40 * GIB] * 4, cpu_cores=16)
    assert Counter(placement.workers) == {gpu: 4 for gpu in "0123"}
    assert "16 CPU cores" in placement.reason


def test_each_pool_worker_sees_only_its_gpu() -> None:
    """Each spawned worker sets its slot's CUDA_VISIBLE_DEVICES before any job."""
    with WorkerPool(["5", "7"]) as pool:
        for slot in (0, 1):
            pool.submit(slot, slot, os.getenv, "CUDA_VISIBLE_DEVICES")
        outcomes = []
        while len(outcomes) < 2:
            outcomes += pool.wait()
    seen = sorted((o.tag, o.kind, o.value) for o in outcomes)
    assert seen == [(0, "done", "5"), (1, "done", "7")]
