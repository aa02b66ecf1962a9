"""A run reads each job's result once: the scan's reading serves until the file changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.atomic import atomic_write_json
from bench.expand import Job
from bench.provenance import code_fingerprint
from bench.run.job.entry import ERROR_FILE, execute_job
from bench.run.store.pending import Finished, scan
from bench.run.store.results import RESULT_FILE, ResultsStore


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The job ids whose `result.json` was read, in order."""
    reads: list[str] = []
    original = ResultsStore.look

    def look(self, suite: str, job_id: str):
        reads.append(job_id)
        return original(self, suite, job_id)

    monkeypatch.setattr(ResultsStore, "look", look)
    return reads


def test_each_version_of_a_result_is_read_once(tmp_path: Path, tiny_job, counted) -> None:
    store = ResultsStore(tmp_path)
    done, stale, todo = (Job("s", "v", seed, tiny_job()) for seed in (0, 1, 2))
    for job, code_id in ((done, code_fingerprint()["code_id"]), (stale, "other code")):
        record = {**job.record(), "status": "ok", "fingerprint": {"code_id": code_id}}
        atomic_write_json(store.job_dir("s", job.id) / RESULT_FILE, record)
    start = scan([done, stale, todo], store, rerun_stale=True)
    assert start.pending == [stale, todo] and start.stale == 1
    assert sorted(counted) == sorted([done.id, stale.id])  # `todo` has no file to read
    assert not start.finished(stale) and not start.finished(todo)
    assert len(counted) == 2, "the scan's reading serves until the file changes"
    atomic_write_json(
        store.job_dir("s", stale.id) / RESULT_FILE, {**stale.record(), "status": "diverged"}
    )
    assert not start.finished(stale) and counted[-1] == stale.id  # changed: read again


def test_without_rerun_stale_any_readable_result_counts(tmp_path: Path, tiny_job) -> None:
    store, job = ResultsStore(tmp_path), Job("s", "v", 0, tiny_job())
    path = store.job_dir("s", job.id) / RESULT_FILE
    path.parent.mkdir(parents=True)
    path.write_text("{trunc")
    assert not Finished(store)(job), "a corrupt result is no result"
    atomic_write_json(path, {**job.record(), "status": "ok"})
    assert Finished(store)(job) and not Finished(store, rerun_stale=True)(job)


def test_a_job_that_raises_leaves_its_traceback_and_fails(tmp_path: Path, tiny_job) -> None:
    config = tiny_job(steps=2)
    data = config.data.model_copy(update={"name": "mnist", "root": str(tmp_path / "nowhere")})
    job = Job("s", "broken", 0, config.model_copy(update={"data": data}))
    assert execute_job(job, str(tmp_path), "cpu", 1) == "failed"
    folder = ResultsStore(tmp_path).job_dir("s", job.id)
    assert "Traceback" in (folder / ERROR_FILE).read_text()
    assert json.loads((folder / "job.json").read_text())["variant"] == "broken"
    assert not (folder / RESULT_FILE).exists()
