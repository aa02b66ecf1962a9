"""The round robin over job slots: K jobs advance one training iteration each in turn.

Each job runs stepwise (`bench.run.job.phases.job_steps`, one training iteration per
`next()`); `RoundRobin` advances the K slots in turn, each inside its own context (a packed
worker's CUDA stream for the slot), and starts the next pending job in a slot as soon as its
job ends. Plain Python, tested on CPU with fake jobs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from bench.expand import Job

JobSteps = Iterator[None]
Finished = Callable[[Any, dict[str, Any] | None, BaseException | None], None]


class RoundRobin:
    """K slots, each training one job; every round advances each busy slot one iteration.

    `take()` gives the next job (None: no more), `start(job, slot)` its stepwise run (a
    generator returning the job's record), `stream(slot)` the context each of the slot's
    steps runs in (its CUDA stream), and `finished(job, record, error)` is called once per
    job, with the exception if its run raised (the other slots go on, unless `finished`
    raises; `held()` then names the jobs still in their slots).
    """

    def __init__(
        self,
        slots: int,
        take: Callable[[], Job | None],
        start: Callable[[Job, int], JobSteps],
        finished: Finished,
        stream: Callable[[int], AbstractContextManager] = lambda slot: contextlib.nullcontext(),
    ) -> None:
        self.slots, self.take, self.start = slots, take, start
        self.finished, self.stream = finished, stream
        self.active: list[tuple[Job, JobSteps] | None] = [None] * slots

    def run(self) -> None:
        more = True
        while more or any(self.active):
            for slot in range(self.slots):
                if self.active[slot] is None and more:
                    job = self.take()
                    more = job is not None
                    if job is not None:
                        self.active[slot] = (job, self.start(job, slot))
                if self.active[slot] is not None:
                    self._advance(slot)

    def held(self) -> list[Any]:
        """The jobs in their slots now, unfinished."""
        return [active[0] for active in self.active if active is not None]

    def _advance(self, slot: int) -> None:
        job, steps = self.active[slot]
        with self.stream(slot):
            try:
                next(steps)
                return
            except StopIteration as end:
                record, error = end.value, None
            except Exception as err:  # one job's failure never stops its neighbours
                record, error = None, err
        self.active[slot] = None
        self.finished(job, record, error)
