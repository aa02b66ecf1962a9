"""Packed streams, on CPU: the round robin over job slots, the choice of K from measured
memory (a fake probe), packed jobs giving the numbers of the same jobs run alone, and the
fresh worker that takes over after a failed capture or a dead CUDA context (fakes)."""

from __future__ import annotations

import contextlib
import importlib
import json
from collections import Counter
from concurrent.futures import Future

import pytest
import torch

import bench.run.executors.jobs_per_gpu
import bench.run.executors.memory_probe
import bench.run.executors.packed
from bench.expand import Job
from bench.run import suite
from bench.run.executors.jobs_per_gpu import MEMORY_MARGIN, packed_jobs_per_gpu
from bench.run.executors.memory_probe import (
    by_signature,
    heaviest_evaluation,
    memory_signature,
    probe_job,
)
from bench.run.executors.placement import GIB, MAX_JOBS_PER_GPU, Placement
from bench.run.executors.round_robin import RoundRobin
from bench.run.job.entry import ERROR_FILE
from bench.run.job.phases import JobRun, job_steps, run_job
from bench.run.store.results import ResultsStore
from bench.train.capture import WARMUP_ITERATIONS
from bench.tricks.registry import resolve_tricks

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
    ("free", "job_bytes", "scoring", "expected", "bound"),
    [
        ([140 * GIB], 2 * GIB, 0, MAX_JOBS_PER_GPU, "at most 16"),
        ([20 * GIB], 2 * GIB, 0, 8, "20.0 GiB free at 2.50 GiB a job + 0.00 GiB to score one"),
        ([20 * GIB], 1 * GIB, 4 * GIB, 12, "at 1.25 GiB a job + 5.00 GiB to score one"),
        ([80 * GIB, 10 * GIB], 2 * GIB, 0, 4, "10.0 GiB free"),  # the fullest GPU decides
        ([1 * GIB], 2 * GIB, 0, 1, "1.0 GiB free"),  # never below one
        (None, None, 0, MAX_JOBS_PER_GPU, "memory not measured"),
    ],
)
def test_k_comes_from_measured_memory(free, job_bytes, scoring, expected, bound) -> None:
    """Scoring is charged once per worker (it scores one job at a time), training per slot:
    (20 GiB - 4 GiB x 1.25) // (1 GiB x 1.25) = 12, where charging every slot would give 3."""
    k, reason = packed_jobs_per_gpu(free, job_bytes, scoring)
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


def with_changes(cfg, **tables):
    """`cfg` with some tables' fields replaced: `with_changes(cfg, train={"batch_size": 64})`."""
    update = {name: getattr(cfg, name).model_copy(update=fields) for name, fields in tables.items()}
    return cfg.model_copy(update=update)


def test_placement_probes_each_memory_signature_once(monkeypatch, tiny_job) -> None:
    """A fake probe (bytes from batch and image size): seeds and learning rates share a probe;
    a larger batch or image, or other tricks, get their own; K follows the heaviest signature
    and one scoring, measured once."""
    probed = []

    def fake_measure(job, capture, scored=True):
        probed.append((job.variant, scored))
        size = job.config.train.batch_size // 32 + (job.config.data.image_size or 8) // 16
        return bench.run.executors.memory_probe.JobMemory(size * GIB, 2 * GIB)

    monkeypatch.setattr(bench.run.executors.jobs_per_gpu, "ProcessPoolExecutor", InProcess)
    monkeypatch.setattr(bench.run.executors.memory_probe, "measure_job", fake_measure)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: ([40 * GIB, 30 * GIB][i], 0))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    cfg = tiny_job()
    jobs = [Job("s", "base", seed, cfg) for seed in range(3)]
    jobs.append(Job("s", "lr", 0, with_changes(cfg, train={"lr_g": 1e-3})))
    jobs.append(Job("s", "big", 0, with_changes(cfg, train={"batch_size": 96})))
    jobs.append(Job("s", "wide", 0, with_changes(cfg, data={"image_size": 16})))
    sn = tiny_job(spectral_norm={})
    jobs.append(Job("s", "sn", 0, sn, resolve_tricks(sn.tricks, "test", frozenset({"images"}))))
    placement = suite.local_placement("cuda", None, None, jobs)
    training = [("base", False), ("big", False), ("wide", False), ("sn", False)]
    assert probed == [*training, ("wide", True)]  # then one scoring: the largest images
    # heaviest: 3 GiB (batch 64 at 8 px; 16 px at batch 32): (30 - 2.5) // 3.75 = 7
    assert Counter(placement.workers) == {"0": 7, "1": 7}
    assert "30.0 GiB free at 3.75 GiB a job + 2.50 GiB to score one" in placement.reason
    assert "4 job signatures probed" in placement.reason
    fixed = suite.local_placement("cuda", 3, 4, jobs)
    assert fixed.workers == ("0", "1", "0") and fixed.reason == "--jobs-per-gpu"


def test_one_job_per_gpu_needs_no_memory_probe(monkeypatch, tiny_job) -> None:
    def no_probe(*args):
        raise AssertionError("probed memory though --jobs leaves one job per GPU")

    monkeypatch.setattr(bench.run.executors.jobs_per_gpu, "probe_memory", no_probe)
    monkeypatch.setattr(bench.run.executors.jobs_per_gpu, "ProcessPoolExecutor", InProcess)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    jobs = [Job("s", "v", seed, tiny_job()) for seed in range(3)]
    for workers, slots in ((1, ("0",)), (2, ("0", "1"))):
        placement = suite.local_placement("cuda", workers, None, jobs)
        assert placement.workers == slots and "memory not probed" in placement.reason


def test_the_memory_probe_is_a_short_run_per_signature(tiny_job) -> None:
    small, big = tiny_job(), with_changes(tiny_job(), train={"batch_size": 128})
    jobs = [Job("s", "small", 0, small), Job("s", "small", 1, small), Job("s", "big", 0, big)]
    assert [job.variant for job in by_signature(jobs).values()] == ["small", "big"]
    assert memory_signature(jobs[0]) == memory_signature(jobs[1])
    many = with_changes(small, eval={"num_samples": 500})
    assert heaviest_evaluation([*jobs, Job("s", "many", 0, many)]).variant == "many"
    probe = probe_job(jobs[2])
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
    bench.run.executors.packed._run_packed(
        [good, bad], tmp_path, placement, lambda job, s: statuses.update({job.variant: s}),
        capture=True, device_name="cpu",
    )  # fmt: skip
    assert statuses == {"v": "ok", "broken": "failed"}
    store = ResultsStore(tmp_path)
    assert (store.job_dir("pack", bad.id) / ERROR_FILE).exists()
    record = json.loads((store.job_dir("pack", good.id) / "result.json").read_text())
    assert record["execution"]["packed"] == 2 and record["execution"]["stream"] in (0, 1)


FAKE_WORKERS = """
import bench.run.executors.packed_worker as packed_worker
import bench.train.loop as loop
from bench.train.capture import GRAPH, Execution


class FailingCapture:  # stands in for CudaGraphs: the warm-up trains, every capture raises
    def __init__(self, iteration, rng, stream):
        self.iteration = iteration

    def eager(self, pattern):
        return self.iteration(pattern)

    def capture(self, pattern):
        raise RuntimeError("operation not permitted when stream is capturing")

    def replay(self):
        raise AssertionError("nothing was captured")


def failing_capture(*args):
    chosen = loop.choose_execution
    loop.choose_execution = lambda tricks, device, capture=True: (
        Execution(GRAPH, "fake") if capture else chosen(tricks, device, capture)
    )
    loop.CudaGraphs, loop.job_stream = FailingCapture, lambda: None
    packed_worker.packed_worker(*args)


def dead_context(*args):
    packed_worker.context_alive = lambda device: False
    packed_worker.packed_worker(*args)
"""


@pytest.fixture
def fake_workers(tmp_path, monkeypatch):
    """Worker process targets that fake a failed capture or a dead CUDA context, in a module
    the spawned workers can import."""
    folder = tmp_path / "fakes"
    folder.mkdir()
    (folder / "fake_packed_workers.py").write_text(FAKE_WORKERS)
    monkeypatch.syspath_prepend(str(folder))
    return importlib.import_module("fake_packed_workers")


def run_packed(jobs, root, worker, slots: int = 2):
    statuses, notes = {}, []
    bench.run.executors.packed._run_packed(
        jobs, root, Placement(workers=("",) * slots, jobs_per_gpu=slots),
        lambda job, status: statuses.update({job.variant: status}),
        capture=True, device_name="cpu", note=notes.append, worker=worker,
    )  # fmt: skip
    return statuses, notes


def result(store: ResultsStore, job: Job) -> dict:
    return json.loads((store.job_dir(job.suite, job.id) / "result.json").read_text())


def test_a_failed_capture_ends_its_worker_and_the_job_reruns_eagerly(
    tiny_job, tmp_path, fake_workers
) -> None:
    """The capture raises (a fake): the worker exits, a fresh one reruns the job eagerly
    from the start, and the job gives the numbers of the same job run alone."""
    job = Job("pack", "v", 0, tiny_job(steps=WARMUP_ITERATIONS + 1))
    statuses, notes = run_packed([job], tmp_path / "packed", fake_workers.failing_capture)
    assert statuses == {"v": "ok"}
    assert len(notes) == 1 and "graph capture failed (operation not" in notes[0]
    record = result(ResultsStore(tmp_path / "packed"), job)
    execution = record["execution"]
    assert execution["mode"] == "eager", execution
    assert execution["reason"].startswith("graph capture failed (operation not permitted")
    assert "rerun eagerly from the start in a fresh worker process" in execution["reason"]
    alone = run_job(job, ResultsStore(tmp_path / "alone"), CPU)
    assert record["metrics"] == alone["metrics"]
    assert record["evaluations"] == alone["evaluations"]


def test_a_dead_cuda_context_ends_its_worker_and_the_rest_run_in_a_fresh_one(
    tiny_job, tmp_path, fake_workers
) -> None:
    """After a job's failure the context reads as dead (a fake): that job is reported failed
    with why, and the job its other slot held runs again in a fresh worker."""
    broken = with_changes(tiny_job(steps=4), data={"name": "mnist", "root": str(tmp_path)})
    jobs = [
        Job("pack", "first", 0, tiny_job(steps=4)),
        Job("pack", "broken", 0, broken),
        Job("pack", "last", 1, tiny_job(steps=4)),
    ]
    statuses, notes = run_packed(jobs, tmp_path / "packed", fake_workers.dead_context)
    assert statuses == {"first": "ok", "broken": "failed", "last": "ok"}
    assert len(notes) == 1 and "left the CUDA context dead" in notes[0]
    store = ResultsStore(tmp_path / "packed")
    error = (store.job_dir("pack", jobs[1].id) / ERROR_FILE).read_text()
    assert "CUDA context was unusable after this error" in error
    # "first" was in its slot when the context died: it ran again, beside "last"
    assert (
        result(store, jobs[0])["execution"]["worker"]
        == result(store, jobs[2])["execution"]["worker"]
    )
