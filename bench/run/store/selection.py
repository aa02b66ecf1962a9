"""Which finished jobs of a suite may be pooled, and what was set aside (never silently).

A report, an export, a regression check and a tuning confirmation compare seeds of the same
variant. Two jobs may only be pooled when they differ in nothing but the seed, and were made
by the same code. So, for each suite:

1. Definition: only the jobs of one revision (default: the current one, from `suite.json`,
   see `bench.run.store.definition`) are pooled; finished jobs of other revisions are counted.
2. Code: of those, only the jobs of one code fingerprint (`bench.provenance.code_id`)
   are pooled: the code of the most recently finished job. Jobs made by other code are
   counted and flagged as a warning: `bench run --rerun-stale` redoes them.
3. Device and machine: jobs of the same code on different device classes (e.g. two GPU
   models of one Ray cluster) or machine classes (`bench.machine`: CPU model, instruction-set
   dispatch, GPU model) are pooled, with a warning that gives the counts; the report also
   flags each comparison whose paired seeds ran on two classes (`bench.report.machines`).

Damaged jobs (a corrupt `result.json`, or a file of the job that does not check out, see
`bench.run.store.results.verify_job`) are never pooled; each is named. `everything=True`
(`bench export --all-jobs`) lists every finished job, each row saying its revision and fingerprint.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.errors import ResultsError
from bench.machine import machine_class
from bench.provenance import code_id
from bench.run.store.definition import REVISIONS, revision_jobs
from bench.run.store.results import Damaged, ResultsStore


@dataclass
class SuiteJobs:
    """One suite's finished jobs: those pooled, and those set aside with the reason."""

    suite: str
    meta: dict[str, Any]
    pooled: list[dict[str, Any]]
    revision: str | None = None
    other_revisions: Counter = field(default_factory=Counter)
    other_code: Counter = field(default_factory=Counter)
    devices: Counter = field(default_factory=Counter)
    machines: Counter = field(default_factory=Counter)
    damaged: list[Damaged] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """What a reader of the headline must know: results of other code, mixed devices."""
        found = []
        if self.other_code:
            count = sum(self.other_code.values())
            found.append(
                f"{count} jobs made by other code (another gan-bench source, library or Python "
                f"version: {_counts(self.other_code)}) are not pooled with the "
                f"{len(self.pooled)} shown; re-run them with `bench run SUITE --rerun-stale`"
            )
        if len(self.devices) > 1:
            found.append(
                f"the pooled jobs ran on different device classes ({_counts(self.devices)}); "
                "numbers from different devices are not bit-identical"
            )
        if len(self.machines) > 1:
            found.append(
                f"the pooled jobs ran on {len(self.machines)} machine classes ("
                + "; ".join(f"{n} x '{name}'" for name, n in self.machines.most_common())
                + "); the same seed gives other numbers on another "
                "class, so comparisons whose paired seeds ran on two classes are flagged"
            )
        return found

    def notes(self) -> list[str]:
        """What is kept on disk but not shown, and where to see it."""
        found = []
        if self.other_revisions:
            count, kinds = sum(self.other_revisions.values()), len(self.other_revisions)
            command = f"bench report --suite {self.suite} --revision"
            if kinds == 1:
                how = f"`{command} {next(iter(self.other_revisions))}`"
            else:
                each = sorted(self.other_revisions.items())
                how = f"`{command} REV`, REV in " + ", ".join(f"{r} ({n} jobs)" for r, n in each)
            found.append(
                f"suite {self.suite}: {count} finished jobs of {kinds} other "
                f"definition{'s' if kinds > 1 else ''} of this suite are kept but not pooled; "
                f"see them with {how}"
            )
        found += [f"skipped {d.describe()}; `bench run` redoes it" for d in self.damaged]
        unverified = sum(record.get("digests") is None for record in self.pooled)
        if unverified:
            found.append(
                f"suite {self.suite}: {unverified} jobs were written before gan-bench recorded "
                "the digests of a job's files, so their files were checked by structure only "
                "(a re-run records them)"
            )
        return found


def select_jobs(
    store: ResultsStore, suite: str, revision: str | None = None, everything: bool = False
) -> SuiteJobs:
    """The finished jobs of `suite` that may be pooled (see the module docstring)."""
    meta = store.read_suite(suite)
    records, damaged = store.finished(suite)
    if everything:
        return SuiteJobs(suite, meta, records, damaged=damaged)
    members = revision_jobs(meta, revision)
    if revision and members is None:
        known = ", ".join(sorted(meta.get(REVISIONS) or {})) or "none recorded"
        raise ResultsError(f"suite {suite}: no revision '{revision}'; revisions: {known}")
    selected = SuiteJobs(suite, meta, [], revision or meta.get("revision"), damaged=damaged)
    if members is None:
        current = records
        if meta.get("design") != "tune":  # trials differ by design; they are never pooled
            check_one_config_per_variant(suite, records)
    else:
        current = [r for r in records if members.get(r.get("job_id")) == r.get("variant")]
        selected.other_revisions = Counter(
            r.get("suite_revision") or "unrecorded"
            for r in records
            if members.get(r.get("job_id")) != r.get("variant")
        )
    if current:
        latest = max(current, key=lambda r: str(r.get("finished_at", "")))
        chosen = code_id(latest)
        selected.pooled = [r for r in current if code_id(r) == chosen]
        selected.other_code = Counter(code_id(r) for r in current if code_id(r) != chosen)
        selected.devices = Counter(
            (r.get("fingerprint") or {}).get("device_class", "unrecorded") for r in selected.pooled
        )
        selected.machines = Counter(machine_class(r) for r in selected.pooled)
    return selected


def check_one_config_per_variant(suite: str, records: list[dict[str, Any]]) -> None:
    """A suite recorded before revisions: refuse to pool a variant whose jobs differ in config."""
    configs: dict[str, set[str]] = {}
    for record in records:
        config = json.dumps(record.get("config"), sort_keys=True)
        configs.setdefault(str(record.get("variant")), set()).add(config)
    for variant, found in sorted(configs.items()):
        if len(found) > 1:
            raise ResultsError(
                f"suite {suite}: variant '{variant}' has jobs of {len(found)} different configs, "
                "and its suite.json predates suite revisions, so they cannot be told apart; "
                "re-run the suite (it then records its revision) or list every job with "
                "`bench export --all-jobs`"
            )


def _counts(counter: Counter) -> str:
    return ", ".join(f"{n} x {key}" for key, n in counter.most_common())
