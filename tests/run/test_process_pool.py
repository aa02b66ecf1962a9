"""The local runner's worker processes: a dead worker fails only its job, workers die with their
runner, and SIGINT / SIGTERM stop the run with a true count of what is kept."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.run.executors.process_pool import WorkerPool

SIX_JOBS = ("--jobs", "2", "--set", "train.steps=60", "--set", "suite.seeds=[0, 1, 2]")


def bench_run(suite: Path, results: Path, **popen) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.cli", "run", str(suite), "--results", str(results),
           "--device", "cpu", "--quiet", *SIX_JOBS]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def finished(results: Path) -> set[str]:
    return {p.parent.name for p in results.glob("tiny/*/result.json")}


def running(results: Path) -> set[str]:
    """Jobs started (their `job.json` is written first) and not finished."""
    return {p.parent.name for p in results.glob("tiny/*/job.json")} - finished(results)


def alive(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def workers_of(pid: int) -> list[int]:
    """The worker processes (spawned children) of process `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    """The processes of `pids` still alive after `timeout` seconds (then killed: no leftovers)."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in pids if alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def test_a_killed_worker_fails_its_job_and_the_suite_goes_on(
    tiny_suite: Path, tmp_path: Path
) -> None:
    """kill -9 of one worker, as the OOM killer does: only the job it held fails."""
    results = tmp_path / "results"
    proc = bench_run(tiny_suite, results)
    wait_for(lambda: finished(results) and len(running(results)) == 2, proc, "two running jobs")
    victim = workers_of(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)

    assert "Traceback" not in err and "BrokenProcessPool" not in err
    assert proc.returncode == 1, err
    assert "6 jobs: 0 already finished, 1 failed, 5 ok" in out
    (error,) = results.glob("tiny/*/error.txt")
    text = error.read_text()
    assert f"worker process {victim} died" in text and "SIGKILL" in text
    assert f"failed: see {error}" in err
    assert len(finished(results)) == 5 and error.parent.name not in finished(results)


def test_killing_the_runner_kills_its_workers(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    proc = bench_run(tiny_suite, results)
    wait_for(lambda: len(running(results)) == 2, proc, "two running jobs")
    workers = workers_of(proc.pid)
    assert len(workers) == 2
    proc.kill()
    proc.wait(timeout=30)
    assert wait_gone(workers) == [], "workers outlived their runner"
    proc.communicate(timeout=30)


def test_sigterm_stops_the_run_like_ctrl_c(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    proc = bench_run(tiny_suite, results)
    wait_for(lambda: finished(results) and len(running(results)) == 2, proc, "two running jobs")
    workers = workers_of(proc.pid)
    proc.terminate()
    proc.wait(timeout=30)
    assert wait_gone(workers) == [], "workers outlived their runner"
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    kept = len(finished(results))
    assert f"stopped by SIGTERM: {kept} of 6 jobs are finished and kept" in err
    assert "run the same command again" in err


def test_ctrl_c_to_the_process_group_reports_what_is_kept(tiny_suite: Path, tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals every process of the group, the workers too."""
    results = tmp_path / "results"
    proc = bench_run(tiny_suite, results, start_new_session=True)
    wait_for(lambda: finished(results) and len(running(results)) == 2, proc, "two running jobs")
    workers = workers_of(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=30)
    assert wait_gone(workers) == [], "workers outlived their runner"
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    said = re.search(r"interrupted: (\d+) of 6 jobs are finished and kept", err)
    assert said, err
    time.sleep(1)  # nothing may land after the message
    assert int(said.group(1)) == len(finished(results))


def zombie(pid: int) -> bool:
    """Whether `pid` has exited but was never reaped by its parent (state Z in /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.xfail(
    strict=False,
    reason="flaky: passes alone, failed once in a full run and in some whole-file runs (the "
    "dead worker still a zombie after `wait`); to be explained before it is trusted",
)
def test_a_worker_killed_after_it_replied_is_reaped_not_left_a_zombie() -> None:
    """kill -9 of a worker whose reply is already in the pipe: the reply counts, and the dead
    process is reaped at once (no `<defunct>` child of the runner)."""
    with WorkerPool([None]) as pool:
        pool.submit(0, "task", os.getpid)
        worker = pool.workers[0].process
        assert pool.workers[0].conn.poll(60), "the worker never replied"
        os.kill(worker.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not zombie(worker.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert zombie(worker.pid), "the killed worker should be dead and not yet reaped"
        (outcome,) = pool.wait(10)
        assert (outcome.tag, outcome.kind, outcome.value) == ("task", "done", worker.pid)
        assert not zombie(worker.pid), "the dead worker was left a zombie"
        assert pool.workers == [None]
        pool.submit(0, "next", os.getpid)  # the slot gets a fresh worker
        (outcome,) = pool.wait(60)
        assert outcome.kind == "done" and outcome.value != worker.pid
