"""The CPU time a job used, beside its wall time, so machine load is not read as its cost.

Wall time grows when other processes share the cores; CPU time does not (much). A job's CPU
time is the process CPU time (`time.process_time()`: user + system time of every thread of
the job's process, torch's OpenMP threads included) counted only while the job's own code
runs: a job run stepwise (`bench.run.job.phases.job_steps`) is timed per turn, so in a packed
worker, where several jobs advance in turn in one process, each job is charged the process's CPU
time during its own turns (including any other thread of that process busy then, e.g. an
OpenMP thread still spinning after a neighbour's kernel). On CUDA it is the host's work only
(launches, data, scoring on the CPU), not the GPU's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import TypeVar

Result = TypeVar("Result")


class CpuClock:
    """Process CPU time accumulated over the turns it is `running`."""

    def __init__(self, now: Callable[[], float] = time.process_time) -> None:
        self.now = now
        self.spent = 0.0
        self.since: float | None = None

    def start(self) -> None:
        if self.since is None:
            self.since = self.now()

    def stop(self) -> None:
        if self.since is not None:
            self.spent += self.now() - self.since
            self.since = None

    def seconds(self) -> float:
        """CPU seconds so far, the current turn included."""
        return self.spent + (0.0 if self.since is None else self.now() - self.since)

    def timed(self, steps: Generator[None, None, Result]) -> Generator[None, None, Result]:
        """`steps`, one `next()` per `next()`, with the clock running only inside each turn."""
        try:
            while True:
                self.start()
                try:
                    next(steps)
                except StopIteration as end:
                    return end.value
                finally:
                    self.stop()
                yield
        finally:
            steps.close()
