"""The jobs a runner still has to do, handed out only once it holds their claims.

A run starts with one read of every job's `result.json` (`scan`): a job counts as finished
when it has a result and every file of the job checks out (`bench.run.store.results.verify_job`;
with `bench run --rerun-stale`, only a result made by this code); a damaged job is run
again, and named. Later
looks read a result file again only once it has changed. A job
claimed by another live runner is skipped and looked at again every `POLL_S`: once that
runner finishes it, it counts as finished by another runner; if that runner releases it
unfinished, or dies, this runner claims and runs it (`bench.run.store.claims`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from bench.expand import Job
from bench.provenance import code_fingerprint, code_id
from bench.run.store.claims import Busy, ClaimBook, Runner
from bench.run.store.results import RESULT_FILE, Damaged, ResultsStore

POLL_S = 2.0
ELSEWHERE = "finished by another runner"


def made_by_this_code(record: dict[str, Any]) -> bool:
    """Whether a job's record was made by the code running now (its fingerprint's code id)."""
    return code_id(record) == code_fingerprint()["code_id"]


class Finished:
    """What a runner counts as done: any readable result, or with `rerun_stale` only results
    made by this code. Each version of a job's `result.json` is read once."""

    def __init__(self, store: ResultsStore, rerun_stale: bool = False) -> None:
        self.store, self.rerun_stale = store, rerun_stale
        self.seen: dict[str, tuple[tuple[int, int, int], dict[str, Any] | Damaged | None]] = {}

    def __call__(self, job: Job) -> bool:
        return self.counts(self.record(job))

    def record(self, job: Job) -> dict[str, Any] | None:
        """The job's verified result (None: none, or damaged), read again only when its
        `result.json` changed."""
        found = self.look(job)
        return None if isinstance(found, Damaged) else found

    def look(self, job: Job) -> dict[str, Any] | Damaged | None:
        """`ResultsStore.look` of the job, read again only when its `result.json` changed."""
        try:
            stat = (self.store.job_dir(job.suite, job.id) / RESULT_FILE).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        seen = self.seen.get(job.id)
        if seen is None or seen[0] != version:
            seen = self.seen[job.id] = (version, self.store.look(job.suite, job.id))
        return seen[1]

    def counts(self, record: dict[str, Any] | None) -> bool:
        return record is not None and (not self.rerun_stale or made_by_this_code(record))


@dataclass(frozen=True)
class Scan:
    """The jobs to run, how many finished jobs were made by other code, and the damaged jobs
    (pending too)."""

    pending: list[Job]
    stale: int
    finished: Finished
    damaged: list[Damaged]


def scan(jobs: list[Job], store: ResultsStore, rerun_stale: bool = False) -> Scan:
    """Read each job's result once: the jobs without one that counts as finished are pending."""
    finished, pending, stale, damaged = Finished(store, rerun_stale), [], 0, []
    for job in jobs:
        found = finished.look(job)
        if isinstance(found, Damaged):
            damaged.append(found)
            found = None
        stale += found is not None and not made_by_this_code(found)
        if not finished.counts(found):
            pending.append(job)
    return Scan(pending, stale, finished, damaged)


class PendingJobs:
    """Unfinished jobs in suite order; `take` claims the next one this runner may run."""

    def __init__(
        self,
        start: Scan,
        book: ClaimBook,
        done: Callable[[Job, str], None],
        bar: tqdm,
        poll_s: float = POLL_S,
    ) -> None:
        """`start`: the scan that found the pending jobs, and what counts as finished;
        `done(job, status)` is called once per job; `bar` shows the run's progress."""
        self.waiting = list(start.pending)
        self.store, self.finished = start.finished.store, start.finished
        self.book, self.done, self.bar, self.poll_s = book, done, bar, poll_s
        self.described = "jobs"
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
        """Release this runner's claim on `job`, recording `status`, and report it done."""
        self.book.release(self.store.job_dir(job.suite, job.id), status)
        self.done(job, status)

    def describe(self, described: str) -> None:
        """Show where the jobs run (e.g. `jobs [2 CPU workers]`) on the progress bar."""
        self.described = described
        self.bar.set_description(described)

    def wait(self) -> None:
        """Wait `poll_s` for jobs claimed by other runners (`show_waiting` says for whom)."""
        self.show_waiting()
        time.sleep(self.poll_s)

    def show_waiting(self) -> None:
        """Say whom this runner waits for: on the bar, and on stderr when that changes."""
        holders = sorted(
            {self.holders[j.id].describe() for j in self.waiting if j.id in self.holders}
        )
        text = f"{len(self.waiting)} jobs are being run by another runner ({', '.join(holders)})"
        self.bar.set_description(f"{self.described} waiting: {text}")
        if holders != self.announced:
            self.announced = holders
            tqdm.write(f"{text}; waiting for them", file=sys.stderr)

    def _finished_elsewhere(self, job: Job) -> None:
        self.waiting.remove(job)
        self.holders.pop(job.id, None)
        self.done(job, ELSEWHERE)
