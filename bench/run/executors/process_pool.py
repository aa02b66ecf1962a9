"""A pool of spawned worker processes, one task at a time each, that survives a dead worker.

Each slot has its own worker and pipe, so the pool knows which task a worker held when it
died (the OOM killer's SIGKILL, say): that task is reported as died, and the slot gets a
fresh worker with its next task. Workers are started with "spawn" (a forked CUDA process is
unusable) and pinned to their slot's GPU (`CUDA_VISIBLE_DEVICES`, set before CUDA starts).
A worker that ends, however it ends (even killed right after it replied), is reaped at once
(`waitpid`, through `Process.join`), so no zombie is left. Workers ignore SIGINT (a
terminal's Ctrl-C reaches the whole process group): the runner decides when they stop. They
exit when their runner dies: the kernel's parent-death signal on Linux, and a watchdog thread
that polls the parent everywhere.

This module imports only the standard library, so a worker ignores SIGINT within moments of
starting, before it imports torch.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCHDOG_S = 1.0
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class Died:
    """How a worker process ended while it held a task."""

    pid: int
    exitcode: int | None

    def describe(self) -> str:
        if self.exitcode is not None and self.exitcode < 0:
            name = signal.Signals(-self.exitcode).name
            cause = f"was killed by signal {-self.exitcode} ({name})"
            if name == "SIGKILL":
                cause += "; the kernel's out-of-memory killer sends SIGKILL when memory runs out"
            return f"worker process {self.pid} died: it {cause}"
        return f"worker process {self.pid} died: it exited with code {self.exitcode}"


@dataclass(frozen=True)
class Outcome:
    """A task's end: `kind` "done" (value: what it returned), "error" (value: the traceback)
    or "died" (value: `Died`)."""

    tag: Any
    kind: str
    value: Any


class _Worker:
    def __init__(self, context: Any, gpu: str | None) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=serve, args=(child, gpu, os.getpid()), name=f"bench-worker-{gpu}", daemon=True
        )
        self.process.start()
        child.close()
        self.tag: Any = None
        self.busy = False


class WorkerPool:
    """One worker process per slot (a GPU id, or None for a CPU worker), started on demand."""

    def __init__(self, slots: Sequence[str | None]) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.slots = list(slots)
        self.workers: list[_Worker | None] = [None] * len(self.slots)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def idle_slots(self) -> list[int]:
        return [i for i, w in enumerate(self.workers) if w is None or not w.busy]

    @property
    def busy(self) -> bool:
        return any(w is not None and w.busy for w in self.workers)

    def submit(self, slot: int, tag: Any, fn: Callable, *args: Any) -> None:
        """Run `fn(*args)` in the slot's worker (started now if it has none)."""
        worker = self.workers[slot]
        if worker is not None and not worker.process.is_alive():  # died while idle
            self._reap(slot, worker)
            worker = None
        if worker is None:
            worker = self.workers[slot] = _Worker(self.context, self.slots[slot])
        worker.conn.send((fn, args))
        worker.tag, worker.busy = tag, True

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """The tasks that ended within `timeout` seconds (None: until one ends)."""
        live = [w for w in self.workers if w is not None]
        ready = wait([*(w.conn for w in live), *(w.process.sentinel for w in live)], timeout)
        outcomes = []
        for slot, worker in enumerate(self.workers):
            if worker is None or not {worker.conn, worker.process.sentinel} & set(ready):
                continue
            message, gone = None, worker.process.sentinel in ready
            try:
                if worker.conn.poll():
                    message = worker.conn.recv()
            except (EOFError, OSError):
                gone = True
            if message is not None:  # a reply sent just before dying is still a reply
                worker.busy = False
                outcomes.append(Outcome(worker.tag, *message))
            if gone:  # reaped at once, replied or not: a dead worker never lingers as a zombie
                outcomes += self._reap(slot, worker)
        return outcomes

    def _reap(self, slot: int, worker: _Worker) -> list[Outcome]:
        """Collect the slot's ended worker process (`waitpid`) and free the slot; its task
        "died" if it had not replied."""
        worker.process.join()
        worker.conn.close()
        self.workers[slot] = None
        if not worker.busy:
            return []
        return [Outcome(worker.tag, "died", Died(worker.process.pid or 0, worker.process.exitcode))]

    def stop(self) -> None:
        """End every worker: idle ones are told to exit, busy ones are terminated."""
        for worker in self.workers:
            if worker is not None:
                if worker.busy:
                    worker.process.terminate()
                else:
                    _send_quietly(worker.conn, None)
        deadline = time.monotonic() + STOP_GRACE_S
        for worker in self.workers:
            if worker is not None:
                worker.process.join(max(0.0, deadline - time.monotonic()))
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join()
                worker.conn.close()
        self.workers = [None] * len(self.slots)


def _send_quietly(conn: Connection, message: Any) -> None:
    with contextlib.suppress(OSError):  # the worker has died meanwhile
        conn.send(message)


def serve(conn: Connection, gpu: str | None, parent: int) -> None:
    """A worker's main loop: run each `(fn, args)` received, send back its outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args = task
        try:
            reply = ("done", fn(*args))
        except Exception:
            reply = ("error", traceback.format_exc())
        conn.send(reply)


def die_with_parent(parent: int) -> None:
    """Make this process exit when `parent` does (it would otherwise live on, orphaned)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # else the watchdog alone
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_S)
    os._exit(1)
