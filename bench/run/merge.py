"""Combine results folders (e.g. one per node) into one store: `bench merge SRC... --into DIR`.

A job id is a hash of the job's config and seed, so the same id in two folders is the same
job: a finished job the destination lacks is copied in, one the destination has is left as it
is, and unfinished ones (no `result.json`) or corrupt ones (an unreadable one) are not
copied. Each job is copied to a temporary folder and renamed into place, so a reader never
sees half of one. Two folders whose `suite.json` describe different suites under one name are
refused before anything is copied; the revisions each one lists (`bench.run.definition`) are
merged.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import ResultsError
from bench.run.definition import REVISIONS, merged_revisions
from bench.run.store import RESULT_FILE, SUITE_FILE, ResultsStore

# Where each node read the suite file from, and the revisions each has run (merged below).
IGNORED_KEYS = frozenset({"source_file", REVISIONS})


@dataclass
class MergeSummary:
    """What a merge did: jobs copied, jobs the destination already had, unfinished jobs."""

    into: Path
    copied: int = 0
    present: int = 0
    unfinished: int = 0
    corrupt: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"merged {self.copied} jobs into {self.into}/ ({self.present} already there, "
            f"{self.unfinished} unfinished not copied)"
        ]
        lines += [f"not copied: {path} is corrupt" for path in self.corrupt]
        return "\n".join(lines)


def merge_results(sources: list[str | Path], into: str | Path) -> MergeSummary:
    """Copy every finished job of `sources` that `into` lacks, suite by suite."""
    dest = ResultsStore(into)
    stores = [ResultsStore(src) for src in sources]
    for store in stores:
        if not store.suites():
            raise ResultsError(f"{store.root}: no results to merge (no <suite>/{SUITE_FILE})")
    metas = _suite_metadata(stores, dest)
    summary = MergeSummary(dest.root)
    dest.root.mkdir(parents=True, exist_ok=True)
    for suite, meta in metas.items():
        every = [store.read_suite(suite) for store in [dest, *stores] if suite in store.suites()]
        revisions = merged_revisions(every)
        if revisions:
            meta = {**meta, REVISIONS: revisions}
        if meta != dest.read_suite(suite):
            dest.write_suite(suite, meta)
    staging = Path(tempfile.mkdtemp(dir=dest.root, prefix=".merge-"))
    try:
        for store in stores:
            if store.root.resolve() != dest.root.resolve():
                for suite in store.suites():
                    _merge_suite(store, dest, suite, staging, summary)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _suite_metadata(stores: list[ResultsStore], dest: ResultsStore) -> dict[str, dict[str, Any]]:
    """Each suite's `suite.json`, checked to agree across every folder (the destination too)."""
    metas: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for store in [dest, *stores]:
        for suite in store.suites():
            meta = store.read_suite(suite)
            if suite not in metas:
                metas[suite], origin[suite] = meta, store.suite_dir(suite) / SUITE_FILE
                continue
            differ = sorted(
                key
                for key in (set(meta) | set(metas[suite])) - IGNORED_KEYS
                if meta.get(key) != metas[suite].get(key)
            )
            if differ:
                raise ResultsError(
                    f"{store.suite_dir(suite) / SUITE_FILE} and {origin[suite]} describe "
                    f"different suites named '{suite}' (they differ in {', '.join(differ)}); "
                    "merge only results of the same suite file and overrides"
                )
    return metas


def _merge_suite(
    src: ResultsStore, dest: ResultsStore, suite: str, staging: Path, summary: MergeSummary
) -> None:
    for job in sorted(p for p in src.suite_dir(suite).iterdir() if p.is_dir()):
        if not (job / RESULT_FILE).is_file():
            summary.unfinished += 1
        elif not src.is_finished(suite, job.name):
            summary.corrupt.append(job / RESULT_FILE)
        elif dest.is_finished(suite, job.name):
            summary.present += 1
        else:
            _copy_job(job, dest.job_dir(suite, job.name), staging)
            summary.copied += 1


def _copy_job(job: Path, target: Path, staging: Path) -> None:
    """Copy a job folder to `target` so that it appears whole or not at all."""
    tmp = staging / f"{target.parent.name}-{job.name}"
    shutil.copytree(job, tmp)
    if target.exists():  # an unfinished or failed attempt: replace it
        old = staging / f"{target.parent.name}-{job.name}.old"
        target.rename(old)
        shutil.rmtree(old)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(target)
