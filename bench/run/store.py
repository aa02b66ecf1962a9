"""Results on disk: `results/<suite>/<job-id>/` per job, written atomically.

A job directory holds `job.json` (the resolved config), `history.csv` (one row per log
point), `samples.png` (a fixed-seed sample grid) and, written last, `result.json`: its
presence marks the job finished, so an interrupted suite resumes where it stopped and never
runs a finished job twice. Every file is written to a temporary name and renamed into place,
so a kill -9 leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json
from bench.errors import ResultsError

RESULT_FILE = "result.json"
JOB_FILE = "job.json"
HISTORY_FILE = "history.csv"
SAMPLES_FILE = "samples.png"
SUITE_FILE = "suite.json"


def history_csv(rows: list[dict[str, float]]) -> bytes:
    """`history.csv`: one row per log point; the columns of every row, in order of appearance."""
    if not rows:
        return b""
    out = io.StringIO()
    fields = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


class CorruptFile(ResultsError):
    """A results file is empty, truncated or not the JSON object it should be."""


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; `CorruptFile` naming the path if it is not one."""
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise CorruptFile(f"{path}: corrupt (empty, truncated or not JSON: {err})") from None
    if not isinstance(value, dict):
        raise CorruptFile(f"{path}: corrupt (a JSON {type(value).__name__}, not an object)")
    return value


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
        """Whether the job has a readable `result.json` (a corrupt one counts as unfinished)."""
        return self.finished_record(suite, job_id) is not None

    def finished_record(self, suite: str, job_id: str) -> dict[str, Any] | None:
        """The job's `result.json`, or None if it has none or only a corrupt one."""
        path = self.job_dir(suite, job_id) / RESULT_FILE
        if not path.is_file():
            return None
        try:
            return read_json(path)
        except ResultsError:
            return None

    def write_suite(self, suite: str, meta: dict[str, Any]) -> None:
        atomic_write_json(self.suite_dir(suite) / SUITE_FILE, meta)

    def read_suite(self, suite: str) -> dict[str, Any]:
        """The suite's `suite.json` ({} if none); `CorruptFile` naming it if unreadable."""
        path = self.suite_dir(suite) / SUITE_FILE
        return read_json(path) if path.is_file() else {}

    def suites(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / SUITE_FILE).is_file())

    def finished(self, suite: str) -> tuple[list[dict[str, Any]], list[Path]]:
        """Every readable `result.json` of `suite`, and the paths of the corrupt ones."""
        records, corrupt = [], []
        for path in sorted(self.suite_dir(suite).glob(f"*/{RESULT_FILE}")):
            try:
                records.append(read_json(path))
            except CorruptFile:
                corrupt.append(path)
        return records, corrupt

    def records(self, suites: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every readable `result.json` of the named suites (default: all); corrupt ones are
        left out (`finished` names them)."""
        known = self.suites()
        if not known:
            raise ResultsError(f"{self.root}: no results yet; run `bench run SUITE.toml` first")
        for suite in suites or known:
            if suite not in known:
                raise ResultsError(
                    f"{self.root}: no suite '{suite}'; suites with results: {', '.join(known)}"
                )
            yield from self.finished(suite)[0]
