"""Runners sharing a results folder claim each job first: they split the work, never train a
job twice at once, and take over the claims of runners that died or went silent."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.run.store.claims import STALE_AFTER_S, Busy, ClaimBook, Held, current_claim

SIX_JOBS = ("--set", "train.steps=60", "--set", "suite.seeds=[0, 1, 2]")


def write_claim(job_dir: Path, host: str, pid: int, heartbeat_at: float) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    record = {"generation": 0, "runner": {"host": host, "pid": pid}, "heartbeat_at": heartbeat_at}
    (job_dir / "claim-0.json").write_text(json.dumps(record))


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_of_runners_racing_for_one_job_exactly_one_wins(tmp_path: Path) -> None:
    barrier, outcomes = threading.Barrier(8), []

    def race() -> None:
        book = ClaimBook()
        barrier.wait()
        outcomes.append(book.acquire(tmp_path / "job"))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Held) for o in outcomes) == 1
    assert sum(isinstance(o, Busy) for o in outcomes) == 7
    assert [p.name for p in (tmp_path / "job").iterdir()] == ["claim-0.json"]


def test_a_dead_runners_claim_on_this_host_is_taken_over(tmp_path: Path) -> None:
    pid = dead_pid()
    write_claim(tmp_path / "job", socket.gethostname(), pid, time.time())
    held = ClaimBook().acquire(tmp_path / "job")
    assert isinstance(held, Held) and held.path.name == "claim-1.json"
    assert f"/{pid} is gone" in held.took_over
    assert json.loads(held.path.read_text())["took_over"]["generation"] == 0


def test_another_hosts_claim_holds_while_its_heartbeat_is_fresh(tmp_path: Path) -> None:
    write_claim(tmp_path / "fresh", "elsewhere", 1, time.time() - 5)
    busy = ClaimBook().acquire(tmp_path / "fresh")
    assert isinstance(busy, Busy) and busy.claim.runner.describe() == "elsewhere/1"

    write_claim(tmp_path / "silent", "elsewhere", 1, time.time() - STALE_AFTER_S - 5)
    held = ClaimBook().acquire(tmp_path / "silent")
    assert isinstance(held, Held) and "elsewhere/1 is silent" in held.took_over


def test_the_heartbeat_keeps_a_claim_fresh_and_release_records_the_outcome(
    tmp_path: Path,
) -> None:
    with ClaimBook(heartbeat_s=0.02) as book:
        held = book.acquire(tmp_path / "job")
        first = json.loads(held.path.read_text())["heartbeat_at"]
        time.sleep(0.2)
        assert json.loads(held.path.read_text())["heartbeat_at"] > first
        book.release(tmp_path / "job", "ok")
    record = json.loads(held.path.read_text())
    assert record["outcome"] == "ok" and record["ended_at"] >= record["heartbeat_at"]
    again = ClaimBook().acquire(tmp_path / "job")  # a released claim is free, no take-over
    assert isinstance(again, Held) and again.took_over is None
    assert current_claim(tmp_path / "job").generation == 1


def bench_run(suite: Path, results: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.cli", "run", str(suite), "--results", str(results),
           "--device", "cpu", "--quiet", *SIX_JOBS]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two runners on few cores: no oversubscription
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_a_started_job(proc: subprocess.Popen, results: Path) -> Path:
    deadline = time.monotonic() + 120
    while not (started := list(results.glob("tiny/*/job.json"))):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no job started in time"
        time.sleep(0.01)
    return started[0].parent


def claims(job_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(job_dir.glob("claim-*.json"))]


def test_two_runners_split_a_suite_and_train_each_job_once(
    tiny_suite: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    first, second = bench_run(tiny_suite, results), bench_run(tiny_suite, results)
    outputs = [proc.communicate(timeout=300) for proc in (first, second)]
    for proc, (_out, err) in zip((first, second), outputs, strict=True):
        assert proc.returncode == 0, err

    def count(what: str) -> list[int]:
        found = [re.search(rf"(\d+) {what}", out) for out, _ in outputs]
        return [int(match.group(1)) if match else 0 for match in found]

    trained, elsewhere = count("ok"), count("finished by another runner")
    assert sum(trained) == 6 and min(trained) >= 1, outputs
    skipped = count("already finished")  # finished by the other before this one looked
    assert elsewhere == [trained[1] - skipped[0], trained[0] - skipped[1]], outputs
    jobs = sorted(results.glob("tiny/*/result.json"))
    assert len(jobs) == 6
    runners = {first.pid: 0, second.pid: 0}
    for result in jobs:
        ran = [c for c in claims(result.parent) if c["outcome"] != "already finished"]
        assert [c["outcome"] for c in ran] == ["ok"]  # one training per job
        runners[ran[0]["runner"]["pid"]] += 1
    assert list(runners.values()) == trained


def test_a_killed_runners_claim_is_taken_over_on_rerun(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    doomed = bench_run(tiny_suite, results)
    job_dir = wait_for_a_started_job(doomed, results)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    assert not (job_dir / "result.json").exists()

    rerun = bench_run(tiny_suite, results)
    _out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert len(list(results.glob("tiny/*/result.json"))) == 6
    dead, taken = claims(job_dir)
    assert dead["runner"]["pid"] == doomed.pid and "ended_at" not in dead
    assert taken["runner"]["pid"] == rerun.pid and taken["outcome"] == "ok"
    assert f"/{doomed.pid} is gone" in taken["took_over"]["reason"]
    assert f"{job_dir} was taken over" in err
