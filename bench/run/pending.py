"""The jobs a runner still has to do, handed out only once it holds their claims.

A job claimed by another live runner is skipped and looked at again every `POLL_S`: once
that runner finishes it, it counts as finished by another runner; if that runner releases it
unfinished, or dies, this runner claims and runs it (`bench.run.claims`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tqdm import tqdm

from bench.expand import Job
from bench.run.claims import Busy, ClaimBook, Runner
from bench.run.store import ResultsStore

POLL_S = 2.0
ELSEWHERE = "finished by another runner"


class PendingJobs:
    """Unfinished jobs in suite order; `take` claims the next one this runner may run."""

    def __init__(
        self,
        jobs: list[Job],
        store: ResultsStore,
        book: ClaimBook,
        done: Callable[[Job, str], None],
        poll_s: float = POLL_S,
        finished: Callable[[Job], bool] | None = None,
    ) -> None:
        """`finished(job)`: whether a result on disk counts as done (default: any readable
        one; `bench run --rerun-stale` does not count results made by other code)."""
        self.waiting = list(jobs)
        self.store, self.book, self.done, self.poll_s = store, book, done, poll_s
        self.finished = finished or (lambda job: store.is_finished(job.suite, job.id))
        self.look_again: dict[str, float] = {}  # job id -> when to read its claim again
        self.holders: dict[str, Runner] = {}  # job id -> the live runner that held it
        self.notes: list[str] = []
        self.announced: list[str] = []

    @property
    def exhausted(self) -> bool:
        """Every job is taken by this runner or finished by another."""
        return not self.waiting

    def take(self) -> Job | None:
        """The next job, now claimed by this runner; None while the rest are claimed by others."""
        now = time.monotonic()
        for job in list(self.waiting):
            if self.look_again.get(job.id, 0.0) > now:
                continue
            if self.finished(job):
                self._finished_elsewhere(job)
                continue
            job_dir = self.store.job_dir(job.suite, job.id)
            claim = self.book.acquire(job_dir)
            if isinstance(claim, Busy):
                self.holders[job.id] = claim.claim.runner
                self.look_again[job.id] = now + self.poll_s
                continue
            if self.finished(job):  # finished while we looked
                self.book.release(job_dir, "already finished")
                self._finished_elsewhere(job)
                continue
            if claim.took_over:
                self.notes.append(f"job {job_dir} was taken over: {claim.took_over}")
            self.waiting.remove(job)
            self.holders.pop(job.id, None)
            return job
        return None

    def finish(self, job: Job, status: str) -> None:
        """Release this runner's claim on `job`, recording `status`."""
        self.book.release(self.store.job_dir(job.suite, job.id), status)

    def show_waiting(self, bar: tqdm, described: str) -> None:
        """Say whom this runner waits for: on the bar, and on stderr when that changes."""
        holders = sorted(
            {self.holders[j.id].describe() for j in self.waiting if j.id in self.holders}
        )
        text = f"{len(self.waiting)} jobs are being run by another runner ({', '.join(holders)})"
        bar.set_description(f"{described} waiting: {text}")
        if holders != self.announced:
            self.announced = holders
            tqdm.write(f"{text}; waiting for them", file=sys.stderr)

    def _finished_elsewhere(self, job: Job) -> None:
        self.waiting.remove(job)
        self.holders.pop(job.id, None)
        self.done(job, ELSEWHERE)
