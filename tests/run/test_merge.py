"""`bench merge`: per-node results folders become one store; each job copied whole, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ResultsError
from bench.run.store.merge import merge_results
from bench.run.store.results import ResultsStore, job_digests

SUITE = {"name": "tiny", "design": "one_at_a_time", "seeds": [0, 1], "source_file": "tiny.toml"}


def node(root: Path, finished: list[str], unfinished: tuple[str, ...] = (), **meta) -> Path:
    """A results folder as a node leaves it: suite.json, finished and unfinished jobs."""
    store = ResultsStore(root)
    store.write_suite("tiny", {**SUITE, **meta})
    for number, job in enumerate(finished):
        folder = store.job_dir("tiny", job)
        folder.mkdir(parents=True)
        (folder / "history.csv").write_text(f"step,d_loss\n{job[1:]},0.5\n")
        record = {"job_id": job, "suite": "tiny", "variant": "baseline", "seed": number}
        record |= {"status": "ok", "digests": job_digests(folder)}
        (folder / "result.json").write_text(json.dumps(record))
    for job in unfinished:
        store.job_dir("tiny", job).mkdir(parents=True)
        (store.job_dir("tiny", job) / "error.txt").write_text("Traceback ...")
    return root


def jobs_in(root: Path) -> list[str]:
    return sorted(r["job_id"] for r in ResultsStore(root).records())


def test_merge_copies_every_finished_job_once(tmp_path: Path) -> None:
    a = node(tmp_path / "a", ["j1", "j2"], unfinished=("j3",))
    b = node(tmp_path / "b", ["j2", "j3"], source_file="/other/checkout/tiny.toml")
    into = tmp_path / "all"
    summary = merge_results([a, b], into)
    assert (summary.copied, summary.present, summary.unfinished) == (3, 1, 1)
    assert jobs_in(into) == ["j1", "j2", "j3"]
    assert (into / "tiny" / "j3" / "history.csv").read_text() == "step,d_loss\n3,0.5\n"
    assert not (into / "tiny" / "j3" / "error.txt").exists(), "a's failed attempt is not copied"
    assert ResultsStore(into).read_suite("tiny")["seeds"] == [0, 1]
    assert sorted(p.name for p in into.iterdir()) == ["tiny"], "no staging folder left"

    again = merge_results([a, b], into)
    assert (again.copied, again.present) == (0, 4)


def test_a_finished_job_replaces_an_unfinished_attempt_in_the_destination(tmp_path: Path) -> None:
    into = node(tmp_path / "into", [], unfinished=("j1",))
    merge_results([node(tmp_path / "a", ["j1"])], into)
    assert sorted(p.name for p in (into / "tiny" / "j1").iterdir()) == [
        "history.csv",
        "result.json",
    ]


def test_different_suites_under_one_name_are_refused_before_copying(tmp_path: Path) -> None:
    a = node(tmp_path / "a", ["j1"])
    b = node(tmp_path / "b", ["j2"], seeds=[0, 1, 2])
    with pytest.raises(ResultsError, match=r"different suites named 'tiny' .*differ in seeds"):
        merge_results([a, b], tmp_path / "all")
    assert not (tmp_path / "all").exists()


def test_cli_merge(capsys, tmp_path: Path) -> None:
    a, b = node(tmp_path / "a", ["j1"]), node(tmp_path / "b", ["j2"])
    into = tmp_path / "all"
    assert main(["merge", str(a), str(b), "--into", str(into)]) == 0
    assert f"merged 2 jobs into {into}/" in capsys.readouterr().out
    assert main(["merge", str(tmp_path / "nowhere"), "--into", str(into)]) == 2
    assert "no results to merge" in capsys.readouterr().err
