"""Results on disk: `results/<suite>/<job-id>/` per job, written atomically, checked on reading.

A job directory holds `job.json` (the resolved config), `history.csv` (one row per log
point), `samples.png` (a fixed-seed sample grid) and, written last, `result.json`: its
presence marks the job finished, so an interrupted suite resumes where it stopped and never
runs a finished job twice. Every file is written to a temporary name and renamed into place,
so a kill -9 leaves either the old file or the new one, never half of one.

A finished job is verifiable as a whole: `result.json` records the sha256 of every other file
of the job folder (`digests`; only the runner's bookkeeping is left out: claims, `error.txt`
of earlier attempts, temporary files). A reader takes a job as finished only when its
`result.json` matches its schema (`bench.run.store.records`), every file it records is there with
that digest, and `job.json` and `history.csv` read through their schemas too. Anything else is
`Damaged`: named, not pooled, not merged, and run again by `bench run`. A job written before
digests were recorded is checked by structure alone (docs/guarantees.md).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json
from bench.errors import ResultsError
from bench.run.store.claims import CLAIM_PREFIX
from bench.run.store.records import (
    CorruptFile,
    HistoryRow,
    JobRecord,
    ResultRecord,
    Stored,
    SuiteRecord,
    checked,
)

RESULT_FILE = "result.json"
JOB_FILE = "job.json"
HISTORY_FILE = "history.csv"
SAMPLES_FILE = "samples.png"
SUITE_FILE = "suite.json"
ERROR_FILE = "error.txt"
# Files about a job's attempts, not of the job (claims are rewritten after `result.json`, an
# `error.txt` may stay from an earlier attempt); dot-files anywhere are atomic writes under way.
NOT_DIGESTED = (RESULT_FILE, ERROR_FILE, f"{CLAIM_PREFIX}*.json")


def history_csv(rows: list[dict[str, float]]) -> bytes:
    """`history.csv`: one row per log point (each a `HistoryRow`); the columns of every row,
    in order of appearance."""
    if not rows:
        return b""
    for row in rows:
        checked(HistoryRow, row, HISTORY_FILE)
    out = io.StringIO()
    fields = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def read_history(path: Path) -> list[dict[str, Any]]:
    """The rows of a `history.csv` (empty cells None); `CorruptFile` naming the path and the
    first bad line if it is not UTF-8 CSV of numbers, one value per column, with a step."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorruptFile(f"{path}: corrupt (not UTF-8 text at byte {err.start})") from None
    if not text:
        return []
    lines = list(csv.reader(io.StringIO(text, newline="")))
    header, body = lines[0], lines[1:]
    if not text.endswith("\n") or len(set(header)) != len(header) or "" in header:
        raise CorruptFile(f"{path}: corrupt (truncated, or a header without unique names)")
    rows = []
    for number, cells in enumerate(body, start=2):
        if len(cells) != len(header):
            raise CorruptFile(
                f"{path}: corrupt (line {number} has {len(cells)} values for {len(header)} columns)"
            )
        try:
            values = [float(cell) if cell else None for cell in cells]
        except ValueError as err:
            raise CorruptFile(f"{path}: corrupt (line {number}: {err})") from None
        row = dict(zip(header, values, strict=True))
        rows.append(checked(HistoryRow, row, f"{path} line {number}").model_dump())
    return rows


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; `CorruptFile` naming the path if it is not one."""
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise CorruptFile(f"{path}: corrupt (empty, truncated or not JSON: {err})") from None
    if not isinstance(value, dict):
        raise CorruptFile(f"{path}: corrupt (a JSON {type(value).__name__}, not an object)")
    return value


def read_record(model: type[Stored], path: Path) -> dict[str, Any]:
    """`path` read and checked against its schema `model` (strict: nothing is converted, so
    the data is returned as it was read); `CorruptFile` naming the path and the first bad key
    if it does not match."""
    data = read_json(path)
    checked(model, data, str(path))
    return data


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def job_digests(folder: Path) -> dict[str, str]:
    """The sha256 of every file of a job folder, at any depth, by relative path: all but
    `NOT_DIGESTED` at the top and dot-files anywhere."""
    found = {}
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        hidden = any(part.startswith(".") for part in parts)
        bookkeeping = len(parts) == 1 and any(fnmatch(parts[0], p) for p in NOT_DIGESTED)
        if path.is_file() and not hidden and not bookkeeping:
            found["/".join(parts)] = file_digest(path)
    return found


@dataclass(frozen=True)
class Damaged:
    """A job folder with a `result.json` that cannot be trusted, and the first problem found
    (which names the file)."""

    folder: Path
    problem: str

    def describe(self) -> str:
        return f"job {self.folder} is damaged: {self.problem}"


def verify_job(folder: Path, suite: str) -> dict[str, Any]:
    """The job's `result.json`, once every file of the job checks out (module docstring);
    `CorruptFile` naming the first file that does not."""
    result = folder / RESULT_FILE
    record = read_record(ResultRecord, result)
    if (record["suite"], record["job_id"]) != (suite, folder.name):
        raise CorruptFile(
            f"{result}: corrupt (it records job {record['job_id']} of suite {record['suite']}, "
            f"but lies in {suite}/{folder.name})"
        )
    for name, digest in sorted((record.get("digests") or {}).items()):
        path = folder / name
        if not path.is_file():
            raise CorruptFile(f"{path}: missing (result.json records its digest)")
        if file_digest(path) != digest:
            raise CorruptFile(
                f"{path}: changed since the job finished (its sha256 is not the one "
                "result.json records: truncated, overwritten or damaged)"
            )
    digested = record.get("digests")
    present = (
        set(digested)
        if digested is not None
        else {name for name in (JOB_FILE, HISTORY_FILE) if (folder / name).is_file()}
    )
    if JOB_FILE in present:
        described = folder / JOB_FILE
        job = read_record(JobRecord, described)
        differ = [key for key in ("job_id", "suite", "variant", "seed") if job[key] != record[key]]
        if differ:
            differing = ", ".join(differ)
            raise CorruptFile(f"{described}: corrupt (its {differing} differ from result.json's)")
    if HISTORY_FILE in present:
        read_history(folder / HISTORY_FILE)
    return record


def child_dir(parent: Path, name: str, what: str) -> Path:
    """`parent / name`, refused unless it is a folder directly inside `parent`.

    Every path the store writes goes through here, so no suite name or job id (from a suite
    file, an override or a record on disk) can lead a write out of the results folder.
    """
    path = parent / name
    inside = os.path.dirname(os.path.abspath(path)) == os.path.abspath(parent)
    if not inside or name in ("", ".", "..") or Path(name).name != name:
        raise ResultsError(f"{what} '{name}' would not be a folder inside {parent}")
    return path


class ResultsStore:
    """The results folder: where each job's files go, and which jobs are finished."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ResultsError(f"{self.root}: not a folder; --results must name a folder")

    def suite_dir(self, suite: str) -> Path:
        return child_dir(self.root, suite, "suite name")

    def job_dir(self, suite: str, job_id: str) -> Path:
        return child_dir(self.suite_dir(suite), job_id, "job id")

    def is_finished(self, suite: str, job_id: str) -> bool:
        """Whether the job is finished and whole (a damaged one counts as unfinished)."""
        return self.finished_record(suite, job_id) is not None

    def finished_record(self, suite: str, job_id: str) -> dict[str, Any] | None:
        """The job's `result.json`, or None if it has none or is damaged."""
        found = self.look(suite, job_id)
        return None if isinstance(found, Damaged) else found

    def look(self, suite: str, job_id: str) -> dict[str, Any] | Damaged | None:
        """The job's verified `result.json` (`verify_job`), `Damaged`, or None if it has none."""
        return self._look(self.job_dir(suite, job_id), suite)

    @staticmethod
    def _look(folder: Path, suite: str) -> dict[str, Any] | Damaged | None:
        if not (folder / RESULT_FILE).is_file():
            return None
        try:
            return verify_job(folder, suite)
        except ResultsError as err:
            return Damaged(folder, str(err))
        except OSError as err:  # a file of the job cannot be read at all
            return Damaged(folder, f"{err.filename}: unreadable ({err.strerror})")

    def write_suite(self, suite: str, meta: dict[str, Any]) -> None:
        path = self.suite_dir(suite) / SUITE_FILE
        checked(SuiteRecord, meta, str(path))
        atomic_write_json(path, meta)

    def read_suite(self, suite: str) -> dict[str, Any]:
        """The suite's `suite.json` ({} if none); `CorruptFile` naming it and the first bad
        key if it is not a `SuiteRecord`."""
        path = self.suite_dir(suite) / SUITE_FILE
        return read_record(SuiteRecord, path) if path.is_file() else {}

    def suites(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / SUITE_FILE).is_file())

    def finished(self, suite: str) -> tuple[list[dict[str, Any]], list[Damaged]]:
        """Every finished, whole job's `result.json` of `suite`, and the damaged jobs."""
        records, damaged = [], []
        for path in sorted(self.suite_dir(suite).glob(f"*/{RESULT_FILE}")):
            found = self._look(path.parent, suite)
            if isinstance(found, Damaged):
                damaged.append(found)
            elif found is not None:
                records.append(found)
        return records, damaged

    def records(self, suites: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every finished, whole job's `result.json` of the named suites (default: all);
        damaged ones are left out (`finished` names them)."""
        known = self.suites()
        if not known:
            raise ResultsError(f"{self.root}: no results yet; run `bench run SUITE.toml` first")
        for suite in suites or known:
            if suite not in known:
                raise ResultsError(
                    f"{self.root}: no suite '{suite}'; suites with results: {', '.join(known)}"
                )
            yield from self.finished(suite)[0]
