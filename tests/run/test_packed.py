"""Packed streams, on CPU: the round robin over job slots, the choice of K from measured
memory (a fake probe), and packed jobs giving the numbers of the same jobs run alone."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from concurrent.futures import Future

import pytest
import torch

import bench.run.packed
from bench.expand import Job
from bench.run import suite
from bench.run.job import JobRun, job_steps, run_job
from bench.run.packed import (
    MEMORY_MARGIN,
    RoundRobin,
    heaviest,
    packed_jobs_per_gpu,
    probe_job,
)
from bench.run.placement import GIB, MAX_JOBS_PER_GPU, Placement
from bench.run.store import ResultsStore
from bench.run.worker import ERROR_FILE
from bench.train.capture import WARMUP_ITERATIONS

CPU = torch.device("cpu")


def fake_job(name: str, steps: int, log: list, fail_at: int | None = None):
    """A stepwise run of `steps` iterations that logs each one and returns a record."""
    for i in range(steps):
        if i == fail_at:
            raise RuntimeError(f"{name} broke")
        log.append((name, i))
        yield
    return {"status": "ok", "name": name}


def run_round_robin(lengths: dict[str, int], slots: int, fail: dict[str, int] | None = None):
    log, ended, streams = [], [], []
    pending = iter(lengths)

    def start(job: str, slot: int):
        return fake_job(job, lengths[job], log, (fail or {}).get(job))

    @contextlib.contextmanager
    def stream(slot: int):
        streams.append(slot)
        yield

    def finished(job, record, error):
        ended.append((job, record["status"] if record else f"failed: {error}"))

    RoundRobin(slots, lambda: next(pending, None), start, finished, stream).run()
    return log, ended, streams


def test_slots_advance_in_turn_and_take_the_next_job_when_one_ends() -> None:
    log, ended, streams = run_round_robin({"a": 3, "b": 1, "c": 2}, slots=2)
    # b's end shows at its second advance (round 2), so c starts in round 3, in b's slot
    assert log == [("a", 0), ("b", 0), ("a", 1), ("a", 2), ("c", 0), ("c", 1)]
    assert ended == [("b", "ok"), ("a", "ok"), ("c", "ok")]
    assert Counter(streams) == {0: 4, 1: 5}  # every advance ran inside its slot's stream


def test_a_failing_job_frees_its_slot_and_the_others_go_on() -> None:
    log, ended, _ = run_round_robin({"a": 3, "b": 3, "c": 1}, slots=2, fail={"b": 1})
    assert ("b", "failed: b broke") in ended and ("a", "ok") in ended and ("c", "ok") in ended
    assert ("c", 0) in log and ("b", 1) not in log


def test_one_slot_runs_jobs_one_after_another() -> None:
    log, _, _ = run_round_robin({"a": 2, "b": 2}, slots=1)
    assert log == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]


@pytest.mark.parametrize(
    ("free", "job_bytes", "expected", "bound"),
    [
        ([140 * GIB], 2 * GIB, MAX_JOBS_PER_GPU, "at most 16"),
        ([20 * GIB], 2 * GIB, 8, "20.0 GiB free at 2.50 GiB a job (measured)"),
        ([80 * GIB, 10 * GIB], 2 * GIB, 4, "10.0 GiB free"),  # the fullest GPU decides
        ([1 * GIB], 2 * GIB, 1, "1.0 GiB free"),  # never below one
        (None, None, MAX_JOBS_PER_GPU, "memory not measured"),
    ],
)
def test_k_comes_from_measured_memory(free, job_bytes, expected, bound) -> None:
    k, reason = packed_jobs_per_gpu(free, job_bytes)
    assert k == expected and bound in reason
    if job_bytes:
        assert MEMORY_MARGIN > 1


class InProcess:
    """Stands in for the throwaway probe process (it would start CUDA)."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future


def test_placement_on_a_made_up_gpu_machine_uses_the_memory_probe(monkeypatch, tiny_job) -> None:
    probed = []

    def fake_probe(job, capture):
        probed.append(job)
        return [40 * GIB, 30 * GIB], 3 * GIB

    monkeypatch.setattr(bench.run.packed, "ProcessPoolExecutor", InProcess)
    monkeypatch.setattr(bench.run.packed, "free_memory_and_job_bytes", fake_probe)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    jobs = [Job("s", "v", seed, tiny_job()) for seed in range(3)]
    placement = suite.local_placement("cuda", None, None, jobs)
    assert Counter(placement.workers) == {"0": 8, "1": 8}  # 30 GiB / (3 GiB x 1.25)
    assert "30.0 GiB free at 3.75 GiB a job (measured)" in placement.reason
    assert probed == [jobs[0]]
    fixed = suite.local_placement("cuda", 3, 4, jobs)
    assert fixed.workers == ("0", "1", "0") and fixed.reason == "--jobs-per-gpu"


def test_the_memory_probe_is_a_short_run_of_the_heaviest_job(tiny_job) -> None:
    small, big = tiny_job(), tiny_job()
    big = big.model_copy(update={"train": big.train.model_copy(update={"batch_size": 128})})
    jobs = [Job("s", "small", 0, small), Job("s", "big", 0, big)]
    assert heaviest(jobs).variant == "big"
    probe = probe_job(heaviest(jobs))
    assert probe.config.train.steps == WARMUP_ITERATIONS + 2
    assert probe.config.train.batch_size == 128 and probe.config.model == big.model
    assert probe.config.eval.num_samples == big.eval.num_samples  # 100: below the cap


def test_packed_jobs_give_the_numbers_of_the_same_jobs_run_alone(tiny_job, tmp_path) -> None:
    cfg = tiny_job(steps=6)
    jobs = [Job("pack", "v", seed, cfg) for seed in (0, 1)]
    alone = [run_job(job, ResultsStore(tmp_path / "alone"), CPU) for job in jobs]
    store, records = ResultsStore(tmp_path / "packed"), {}
    pending = iter(jobs)
    RoundRobin(
        2,
        lambda: next(pending, None),
        lambda job, slot: job_steps(job, JobRun(store, CPU, placement={"stream": slot})),
        lambda job, record, error: records.update({job.id: record}),
    ).run()
    for record in alone:
        packed = records[record["job_id"]]
        assert packed["metrics"] == record["metrics"]
        assert packed["evaluations"] == record["evaluations"]
        assert packed["execution"]["mode"] == "eager" and "stream" in packed["execution"]


def test_a_packed_worker_process_runs_its_slots_and_reports_each_job(tiny_job, tmp_path) -> None:
    """The real worker process and queues (on CPU, no streams): one job fails, one runs."""
    good = Job("pack", "v", 0, tiny_job(steps=4))
    bad_cfg = tiny_job(steps=4)
    bad_cfg = bad_cfg.model_copy(
        update={"data": bad_cfg.data.model_copy(update={"name": "mnist", "root": str(tmp_path)})}
    )
    bad = Job("pack", "broken", 0, bad_cfg)
    statuses: dict[str, str] = {}
    placement = Placement(workers=("", ""), jobs_per_gpu=2)
    bench.run.packed._run_packed(
        [good, bad], tmp_path, placement, lambda job, s: statuses.update({job.variant: s}),
        capture=True, device_name="cpu",
    )  # fmt: skip
    assert statuses == {"v": "ok", "broken": "failed"}
    store = ResultsStore(tmp_path)
    assert (store.job_dir("pack", bad.id) / ERROR_FILE).exists()
    record = json.loads((store.job_dir("pack", good.id) / "result.json").read_text())
    assert record["execution"]["packed"] == 2 and record["execution"]["stream"] in (0, 1)
