"""`--threads`: torch threads per worker, chosen (or from OMP_NUM_THREADS), shown and recorded,
never part of a job's id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import bench.run.executors.threads
from bench.cli import main
from bench.expand import plan_suite
from bench.run.executors.threads import shared_cores, worker_threads


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2-core machine without OMP_NUM_THREADS: two workers get 1 thread each by default."""
    monkeypatch.setattr(bench.run.executors.threads.os, "cpu_count", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def run(suite: Path, results: Path, *extra: str) -> int:
    argv = ["run", str(suite), "--results", str(results), "--device", "cpu", "--quiet"]
    return main([*argv, "--set", "seeds=[0]", "--set", "train.steps=4", *extra])


def recorded_threads(results: Path) -> dict[str, set[int]]:
    return {
        name: {json.loads(p.read_text())["threads"] for p in results.glob(f"tiny/*/{name}")}
        for name in ("job.json", "result.json")
    }


def test_workers_take_omp_num_threads_record_it_and_keep_their_job_ids(
    capsys, tiny_suite: Path, tmp_path: Path, two_cores, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    results = tmp_path / "results"
    assert run(tiny_suite, results, "--jobs", "2") == 0
    assert "2 threads per worker" in capsys.readouterr().out
    # torch.get_num_threads() inside each worker's job: 2, not cpu_count // jobs = 1
    assert recorded_threads(results) == {"job.json": {2}, "result.json": {2}}
    _, jobs = plan_suite(tiny_suite, ["seeds=[0]", "train.steps=4"])
    assert {p.name for p in (results / "tiny").iterdir() if p.is_dir()} == {j.id for j in jobs}

    assert run(tiny_suite, results, "--jobs", "2", "--threads", "1") == 0  # same job ids
    assert "2 already finished" in capsys.readouterr().out


def test_threads_given_are_used_in_process_and_recorded(
    capsys, tiny_suite: Path, tmp_path: Path, two_cores
) -> None:
    try:
        assert run(tiny_suite, tmp_path / "results", "--threads", "3") == 0
    finally:
        torch.set_num_threads(1)  # the run was in this process (conftest: one thread)
    assert "3 threads per worker" in capsys.readouterr().out
    assert recorded_threads(tmp_path / "results") == {"job.json": {3}, "result.json": {3}}


def test_threads_come_from_the_flag_then_omp_num_threads_then_the_default(
    monkeypatch: pytest.MonkeyPatch, two_cores
) -> None:
    assert worker_threads(None, shared_cores(2)) == 1
    assert worker_threads(None, shared_cores(1)) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert worker_threads(None, 1) == 4
    assert worker_threads(3, 1) == 3


@pytest.mark.parametrize(
    ("threads", "omp", "named"),
    [("0", None, "--threads 0"), ("-2", None, "--threads -2"), (None, "two", "OMP_NUM_THREADS")],
)
def test_a_bad_thread_count_is_one_line_and_starts_nothing(
    capsys, tiny_suite: Path, tmp_path: Path, monkeypatch, threads, omp, named
) -> None:
    if omp is not None:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    results = tmp_path / "results"
    extra = ["--threads", threads] if threads else []
    assert run(tiny_suite, results, *extra) == 2
    assert run(tiny_suite, results, *extra, "--dry-run") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(named in line and "positive" in line for line in err)
    assert not results.exists()


def test_a_rerun_trains_with_the_threads_the_job_recorded(
    capsys, finished_run, tmp_path: Path
) -> None:
    job = finished_run.trick_job(finished_run.copy(tmp_path / "results"))
    described = json.loads((job / "job.json").read_text())
    (job / "job.json").write_text(json.dumps({**described, "threads": 2}))
    assert main(["rerun", str(job), "--into", str(tmp_path / "again"), "--device", "cpu"]) == 0
    again = json.loads(next((tmp_path / "again").glob("tiny/*/result.json")).read_text())
    assert again["threads"] == 2
    assert torch.get_num_threads() == 1  # this process's setting is restored
