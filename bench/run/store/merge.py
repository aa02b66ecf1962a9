"""Combine results folders (e.g. one per node) into one store: `bench merge SRC... --into DIR`.

A job id is a hash of the job's config and seed, so the same id in two folders is the same
job: a finished job the destination lacks (or has only damaged) is copied in, one the
destination has is left as it is, and unfinished ones (no `result.json`) or damaged ones (a
job folder that does not check out, `bench.run.store.results.verify_job`) are not copied. Each job
is copied to a temporary folder and renamed into place, so a reader never sees half of one.
Two folders whose `suite.json` describe different suites under one name are refused before
anything is copied; the revisions each one lists (`bench.run.store.definition`) are merged. A suite
whose `suite.json` is corrupt in a source is not merged from that source; one corrupt in the
destination is not merged at all (its file is left for the user to look at); each is named.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import ResultsError
from bench.run.store.definition import REVISIONS, merged_revisions
from bench.run.store.results import SUITE_FILE, CorruptFile, Damaged, ResultsStore

# Where each node read the suite file from, and the revisions each has run (merged below).
IGNORED_KEYS = frozenset({"source_file", REVISIONS})


@dataclass
class MergeSummary:
    """What a merge did: jobs copied, jobs the destination already had, unfinished jobs,
    damaged jobs and suites skipped (each line names the file)."""

    into: Path
    copied: int = 0
    present: int = 0
    unfinished: int = 0
    damaged: list[Damaged] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"merged {self.copied} jobs into {self.into}/ ({self.present} already there, "
            f"{self.unfinished} unfinished not copied)"
        ]
        lines += [f"not copied: {d.describe()}" for d in self.damaged]
        return "\n".join(lines + self.skipped)


def merge_results(sources: list[str | Path], into: str | Path) -> MergeSummary:
    """Copy every finished job of `sources` that `into` lacks, suite by suite."""
    dest = ResultsStore(into)
    stores = [ResultsStore(src) for src in sources]
    for store in stores:
        if not store.suites():
            raise ResultsError(f"{store.root}: no results to merge (no <suite>/{SUITE_FILE})")
    summary = MergeSummary(dest.root)
    readable = _readable_suites([dest, *stores], summary)
    metas = _suite_metadata(readable)
    dest.root.mkdir(parents=True, exist_ok=True)
    for suite, meta in metas.items():
        every = [found[suite] for found in readable.values() if suite in found]
        revisions = merged_revisions(every)
        if revisions:
            meta = {**meta, REVISIONS: revisions}
        if meta != readable[dest].get(suite):
            dest.write_suite(suite, meta)
    staging = Path(tempfile.mkdtemp(dir=dest.root, prefix=".merge-"))
    try:
        for store in stores:
            if store.root.resolve() != dest.root.resolve():
                for suite in readable[store]:
                    _merge_suite(store, dest, suite, staging, summary)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _readable_suites(
    stores: list[ResultsStore], summary: MergeSummary
) -> dict[ResultsStore, dict[str, dict[str, Any]]]:
    """Each folder's readable `suite.json`s by suite (the destination first); a corrupt one
    leaves that suite out of that source, or out of the merge when the destination's is."""
    readable: dict[ResultsStore, dict[str, dict[str, Any]]] = {}
    refused: set[str] = set()
    for store in stores:
        readable[store] = {}
        for suite in store.suites():
            try:
                readable[store][suite] = store.read_suite(suite)
            except CorruptFile as err:
                if store is stores[0]:
                    refused.add(suite)
                    summary.skipped.append(f"suite {suite} not merged: {err}")
                else:
                    summary.skipped.append(f"suite {suite} not merged from {store.root}: {err}")
    return {
        store: {s: m for s, m in found.items() if s not in refused}
        for store, found in readable.items()
    }


def _suite_metadata(
    readable: dict[ResultsStore, dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """Each suite's `suite.json`, checked to agree across every folder (the destination too)."""
    metas: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for store, found in readable.items():
        for suite, meta in found.items():
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
        found = src.look(suite, job.name)
        if found is None:
            summary.unfinished += 1
        elif isinstance(found, Damaged):
            summary.damaged.append(found)
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
