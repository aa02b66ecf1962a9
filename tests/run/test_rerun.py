"""`bench rerun JOB_DIR`: a job folder alone is enough to run the job again, bit for bit on CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.cli import main


def test_rerun_from_a_lone_job_folder_reproduces_the_numbers(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    argv = ["run", str(tiny_suite), "--results", str(results), "--device", "cpu", "--quiet"]
    assert main([*argv, "--set", "seeds=[3]", "--set", "train.steps=10"]) == 0
    original = next(p.parent for p in results.glob("tiny/*/result.json"))
    alone = tmp_path / "elsewhere" / original.name  # no suite.json, no suite file beside it
    shutil.copytree(original, alone)
    tiny_suite.unlink()
    capsys.readouterr()

    code = main(["rerun", str(alone), "--into", str(tmp_path / "again"), "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "identical" in out
    again = tmp_path / "again" / "tiny" / original.name
    before = json.loads((original / "result.json").read_text())
    after = json.loads((again / "result.json").read_text())
    assert after["metrics"] == before["metrics"] and before["metrics"]["fid"] > 0
    assert after["evaluations"] == before["evaluations"]
    assert (again / "history.csv").read_bytes() == (original / "history.csv").read_bytes()
    assert after["config"] == before["config"] and after["seed"] == 3


def test_rerun_refuses_a_folder_without_job_json(capsys, tmp_path: Path) -> None:
    assert main(["rerun", str(tmp_path), "--into", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert "job.json" in err and str(tmp_path) in err
    assert not (tmp_path / "again").exists()
