"""A finished job is verified as a whole (result.json records the sha256 of every other file):
a damaged one is named, counts as unfinished, is skipped by report and export, not merged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.cli import main
from bench.run.store.results import ResultsStore


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def last_line_dropped(path: Path) -> None:
    """Cut at a line boundary: still well-formed CSV, so only the digest can tell."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))


def binary(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:30] + b"\xff\xfe\x00\x81binary\x00")


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def shows_the_trick(out: str) -> bool:
    """Whether a report (md or csv) or an export has a row of the trick's variant."""
    return "| one_sided_label_smoothing |" in out or ",one_sided_label_smoothing," in out


DAMAGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "truncated history.csv": ("history.csv", truncate),
    "history.csv cut at a line": ("history.csv", last_line_dropped),
    "binary bytes in history.csv": ("history.csv", binary),
    "truncated job.json": ("job.json", truncate),
    "a flipped bit in samples.png": ("samples.png", flip_a_byte),
    "samples.png missing": ("samples.png", Path.unlink),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_job_is_named_and_never_pooled_or_merged(
    capsys, finished_run, tmp_path: Path, damage: str
) -> None:
    results = finished_run.copy(tmp_path / "results")
    job = finished_run.trick_job(results)
    name, act = DAMAGES[damage]
    act(job / name)
    capsys.readouterr()

    dry = ["run", str(finished_run.suite), "--results", str(results), "--dry-run"]
    assert main([*dry, "--set", "train.steps=4", "--set", "seeds=[0]"]) == 0
    out = capsys.readouterr().out
    assert "1 damaged, 1 finished" in out and f"job {job} is damaged: {job / name}" in out

    assert main(["report", "--results", str(results), "--format", "md"]) == 0
    out, err = capsys.readouterr()
    assert "| baseline |" in out and not shows_the_trick(out)
    assert f"skipped job {job} is damaged: {job / name}" in err

    assert main(["export", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 2 and job.name not in out and str(job / name) in err

    assert main(["merge", str(results), "--into", str(tmp_path / "merged")]) == 0
    out = capsys.readouterr().out
    assert "merged 1 jobs" in out and f"not copied: job {job} is damaged" in out
    assert not (tmp_path / "merged" / "tiny" / job.name).exists()


def test_the_html_report_skips_a_binary_history_and_a_run_redoes_the_job(
    capsys, finished_run, tmp_path: Path
) -> None:
    """The issue's crash: binary bytes in history.csv gave a UnicodeDecodeError traceback."""
    results = finished_run.copy(tmp_path / "results")
    job = finished_run.trick_job(results)
    binary(job / "history.csv")
    capsys.readouterr()
    out_file = tmp_path / "report.html"
    assert main(["report", "--results", str(results), "--out", str(out_file)]) == 0
    err = capsys.readouterr().err
    assert out_file.is_file() and f"{job / 'history.csv'}: changed since the job" in err

    run = ["run", str(finished_run.suite), "--results", str(results), "--device", "cpu"]
    assert main([*run, "--quiet", "--set", "train.steps=4", "--set", "seeds=[0]"]) == 0
    out, err = capsys.readouterr()
    assert "1 already finished, 1 ok" in out and f"job {job} is damaged" in err
    assert ResultsStore(results).is_finished("tiny", job.name), "the re-run job is whole again"


def test_every_file_but_the_runners_bookkeeping_is_digested(finished_run) -> None:
    job = finished_run.trick_job(finished_run.results)
    digests = json.loads((job / "result.json").read_text())["digests"]
    assert sorted(digests) == ["history.csv", "job.json", "samples.png"]
    assert any(p.name.startswith("claim-") for p in job.iterdir()), "claims exist, undigested"


def test_a_result_written_before_digests_is_checked_by_structure_and_said_so(
    capsys, finished_run, tmp_path: Path
) -> None:
    results = finished_run.copy(tmp_path / "results")
    for path in results.glob("tiny/*/result.json"):
        record = json.loads(path.read_text())
        del record["digests"]
        path.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["export", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 3
    assert "2 jobs were written before gan-bench recorded the digests" in err

    job = finished_run.trick_job(results)
    binary(job / "history.csv")  # structure still catches what it can
    assert main(["export", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 2 and f"{job / 'history.csv'}: corrupt" in err


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda r: r["fingerprint"].update(code_id={"a": 1}), "fingerprint.code_id"),
        (lambda r: r["metrics"].update(fid="abc"), "metrics.fid"),
        (lambda r: r.update(events=[{"step": 2, "detail": "x"}]), "events.0.detector"),
        (lambda r: r.update(seed="0"), "seed"),
        (lambda r: r["metrics"].update(variant=1.0), "metrics"),  # would shadow the variant
        (lambda r: r.update(digests={"../x": "0" * 64}), "digests"),
    ],
)
def test_valid_json_with_wrong_fields_is_corrupt_with_the_field_named(
    capsys, finished_run, tmp_path: Path, change, key: str
) -> None:
    """The issue's crashes: TypeError (unhashable dict), KeyError (event), ValueError (fid)."""
    results = finished_run.copy(tmp_path / "results")
    job = finished_run.trick_job(results)
    path = job / "result.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))
    capsys.readouterr()
    for command in (["report", "--format", "md"], ["export"], ["report", "--format", "csv"]):
        assert main([*command, "--results", str(results)]) == 0
        out, err = capsys.readouterr()
        assert not shows_the_trick(out) and f"{path}: corrupt: " in err and f"key '{key}'" in err


def test_a_suite_json_with_a_wrong_field_skips_that_suite_naming_the_key(
    capsys, finished_run, tmp_path: Path
) -> None:
    results = finished_run.copy(tmp_path / "results")
    meta = json.loads((results / "tiny" / "suite.json").read_text())
    meta["revisions"] = {"abc": {"jobs": {"j": 5}}}
    (results / "tiny" / "suite.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["report", "--results", str(results), "--format", "md"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "suite.json: corrupt: key 'revisions.abc.jobs.j'" in err
    assert main(["merge", str(results), "--into", str(tmp_path / "merged")]) == 0
    out = capsys.readouterr().out
    assert "merged 0 jobs" in out and "suite tiny not merged from" in out
