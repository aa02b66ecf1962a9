"""Which jobs make up a suite as it is defined now, and as it was defined before.

`results/<suite>/suite.json` records the suite's current `revision` (see
`bench.expand.with_revision`) and, for every revision ever run into this results folder,
its jobs (`revisions.<rev>.jobs`: job id -> variant). A changed suite (another step count,
a new variant, other trick parameters) gets a new revision; the jobs of older revisions stay
on disk but are never pooled with the current ones. Adding seeds keeps the revision and adds
the new seeds' jobs to it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bench.expand import Job
from bench.run.store.results import CorruptFile, ResultsStore

REVISIONS = "revisions"


def definition_metadata(
    meta: dict[str, Any], jobs: list[Job], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """`meta` with the current revision and every revision's jobs (the previous ones kept)."""
    revision = jobs[0].revision
    now = datetime.now(UTC).isoformat(timespec="seconds")
    revisions = dict((previous or {}).get(REVISIONS) or {})
    entry = revisions.get(revision) or {"jobs": {}, "first_run": now}
    revisions[revision] = {
        **entry,
        "jobs": {**entry["jobs"], **{job.id: job.variant for job in jobs}},
        "last_run": now,
    }
    return {**meta, "revision": revision, REVISIONS: revisions}


def record_definition(store: ResultsStore, meta: dict[str, Any], jobs: list[Job]) -> None:
    """Write `suite.json` for `jobs` (one suite, one revision), keeping older revisions.

    A corrupt `suite.json` is replaced: the older revisions it listed are then forgotten
    (their jobs stay on disk, listed by nothing, so never pooled).
    """
    try:
        previous = store.read_suite(meta["name"])
    except CorruptFile:
        previous = None
    store.write_suite(meta["name"], definition_metadata(meta, jobs, previous))


def revision_jobs(meta: dict[str, Any], revision: str | None = None) -> dict[str, str] | None:
    """Job id -> variant of `revision` (default: the current one); None when `suite.json`
    records no revisions (written before they existed, or a tuning-trials suite)."""
    revisions = meta.get(REVISIONS)
    if not revisions:
        return None
    revision = revision or meta.get("revision")
    return dict(revisions.get(revision, {}).get("jobs", {})) if revision in revisions else None


def merged_revisions(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """The union of several `suite.json`s' revisions (for `bench merge`)."""
    merged: dict[str, Any] = {}
    for meta in metas:
        for revision, entry in (meta.get(REVISIONS) or {}).items():
            known = merged.get(revision)
            if known is None:
                merged[revision] = dict(entry)
                continue
            merged[revision] = {
                **known,
                "jobs": {**known["jobs"], **entry["jobs"]},
                "first_run": min(known.get("first_run", ""), entry.get("first_run", "")),
                "last_run": max(known.get("last_run", ""), entry.get("last_run", "")),
            }
    return merged
