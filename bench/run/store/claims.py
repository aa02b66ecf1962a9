"""Job claims: several runners share one results folder and never train a job twice at once.

Before a runner trains a job it claims it: it creates `claim-<n>.json` in the job's folder
with `O_CREAT | O_EXCL`, which exactly one creator wins, on one machine or on a shared
filesystem. The claim names its runner (host, pid) and carries a heartbeat the runner
refreshes every `HEARTBEAT_S` while the job runs; when the job ends the runner writes its
outcome into the claim (released). The highest `n` is the current claim. A runner may take a
job whose current claim is released, or stale: its runner is gone (same host: the process no
longer exists) or silent (no heartbeat for `STALE_AFTER_S`, judged by the reader's clock, so
hosts' clocks must agree to within that margin); it does so by creating claim `n + 1`, which
again only one runner can. Claim files are never deleted: the folder keeps one per attempt,
a record of who ran the job when.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json

HEARTBEAT_S = 10.0
STALE_AFTER_S = 60.0
CLAIM_PREFIX = "claim-"


@dataclass(frozen=True)
class Runner:
    """Who holds a claim: a process on a host; `started` (Linux) tells a reused pid apart."""

    host: str
    pid: int
    started: int | None = None

    @classmethod
    def this_process(cls) -> Runner:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()))

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Runner:
        return cls(str(record.get("host")), int(record.get("pid", 0)), record.get("started"))

    def describe(self) -> str:
        return f"{self.host}/{self.pid}"

    def is_gone(self) -> bool:
        """On this host only: whether the runner's process has exited."""
        if self.host != socket.gethostname():
            return False
        if self.pid <= 0:
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # another user's process: it exists
        started = process_start(self.pid)
        if started == "zombie":
            return True
        return None not in (started, self.started) and started != self.started


def process_start(pid: int) -> int | str | None:
    """The process's start time in clock ticks since boot (Linux), "zombie", or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return "zombie" if fields[0] == "Z" else int(fields[19])


@dataclass(frozen=True)
class Claim:
    """One claim file as read: its generation and record (empty while being written)."""

    path: Path
    generation: int
    record: dict[str, Any]
    modified: float

    @property
    def runner(self) -> Runner:
        return Runner.from_record(self.record.get("runner", {}))

    def stale_reason(self, now: float, stale_after: float = STALE_AFTER_S) -> str | None:
        """Why another runner may take this job now, or None while the claim holds."""
        if "ended_at" in self.record:
            return "released"
        if not self.record:  # created, not yet written: live while recent
            return None if now - self.modified < stale_after else "unreadable"
        if self.runner.is_gone():
            return f"its runner {self.runner.describe()} is gone"
        silent = now - float(self.record.get("heartbeat_at", 0))
        if silent > stale_after:
            return f"its runner {self.runner.describe()} is silent for {silent:.0f} s"
        return None


def claim_path(job_dir: Path, generation: int) -> Path:
    return job_dir / f"{CLAIM_PREFIX}{generation}.json"


def current_claim(job_dir: Path) -> Claim | None:
    """The claim with the highest generation in `job_dir`, or None."""
    found = []
    for path in job_dir.glob(f"{CLAIM_PREFIX}*.json"):
        number = path.name[len(CLAIM_PREFIX) : -len(".json")]
        if number.isdigit():
            found.append((int(number), path))
    if not found:
        return None
    generation, path = max(found)
    try:
        modified = path.stat().st_mtime
        record = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return current_claim(job_dir)
    except (OSError, ValueError):
        record = {}
    return Claim(path, generation, record if isinstance(record, dict) else {}, modified)


def create_exclusive(path: Path, record: dict[str, Any]) -> bool:
    """Create `path` holding `record` unless it exists; True if this call created it."""
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w") as out:
        out.write(json.dumps(record, indent=2, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return True


@dataclass
class Busy:
    """A job another live runner holds."""

    claim: Claim


@dataclass
class Held:
    """A claim this runner holds: its file and record; `took_over` names a stale one."""

    path: Path
    record: dict[str, Any]
    took_over: str | None = None
    lost: bool = False


class ClaimBook:
    """The claims this runner holds, kept alive by a heartbeat thread while it runs."""

    def __init__(
        self, heartbeat_s: float = HEARTBEAT_S, stale_after_s: float = STALE_AFTER_S
    ) -> None:
        self.runner = Runner.this_process()
        self.heartbeat_s, self.stale_after_s = heartbeat_s, stale_after_s
        self.held: dict[Path, Held] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="claim-heartbeat", daemon=True)

    def __enter__(self) -> ClaimBook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.release_all("interrupted")

    def acquire(self, job_dir: Path) -> Held | Busy:
        """Claim the job in `job_dir`, or say which live runner holds it."""
        job_dir.mkdir(parents=True, exist_ok=True)
        while True:
            current = current_claim(job_dir)
            reason = "free" if current is None else current.stale_reason(time.time())
            if reason is None:
                return Busy(current)
            generation = 0 if current is None else current.generation + 1
            now = time.time()
            record = {
                "generation": generation,
                "runner": {"host": self.runner.host, "pid": self.runner.pid},
                "claimed_at": now,
                "heartbeat_at": now,
            }
            if self.runner.started is not None:
                record["runner"]["started"] = self.runner.started
            stale = reason not in ("free", "released")
            if stale:
                record["took_over"] = {"generation": current.generation, "reason": reason}
            path = claim_path(job_dir, generation)
            if create_exclusive(path, record):
                held = Held(path, record, reason if stale else None)
                with self.lock:
                    self.held[job_dir] = held
                return held

    def release(self, job_dir: Path, outcome: str) -> None:
        """End this runner's claim on `job_dir`, recording how the job ended."""
        with self.lock:
            held = self.held.pop(job_dir, None)
            if held is not None:
                ended = {**held.record, "ended_at": time.time(), "outcome": outcome}
                atomic_write_json(held.path, ended)

    def release_all(self, outcome: str) -> None:
        for job_dir in list(self.held):
            self.release(job_dir, outcome)

    def _beat(self) -> None:
        while not self.stopped.wait(self.heartbeat_s):
            with self.lock:
                for job_dir, held in self.held.items():
                    if held.lost:
                        continue
                    if claim_path(job_dir, held.record["generation"] + 1).exists():
                        held.lost = True  # judged stale by another runner (we were silent)
                        continue
                    held.record["heartbeat_at"] = time.time()
                    atomic_write_json(held.path, held.record)
