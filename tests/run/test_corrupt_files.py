"""A truncated or empty result.json / suite.json is named, skipped, redone; never crashes."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli import main
from bench.run.store.merge import merge_results


def run_tiny(suite: Path, results: Path) -> None:
    argv = ["run", str(suite), "--results", str(results), "--device", "cpu", "--quiet"]
    assert main([*argv, "--set", "train.steps=4", "--set", "seeds=[0]"]) == 0


def corrupt_one(results: Path) -> Path:
    path = next(p for p in results.glob("tiny/*/result.json") if '"baseline"' not in p.read_text())
    path.write_text(path.read_text()[:40])  # truncated mid-write by something other than us
    return path


def test_a_truncated_result_is_named_skipped_and_redone(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    run_tiny(tiny_suite, results)
    broken = corrupt_one(results)
    capsys.readouterr()

    assert main(["report", "--results", str(results), "--format", "md"]) == 0
    out, err = capsys.readouterr()
    assert "| baseline |" in out and str(broken) in err and "skipped" in err
    assert main(["export", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 2 and str(broken) in err
    assert main(["report", "--results", str(results), "--out", str(tmp_path / "r.html")]) == 0
    assert str(broken) in capsys.readouterr().err

    run_tiny(tiny_suite, results)
    assert "1 already finished, 1 ok" in capsys.readouterr().out
    assert json.loads(broken.read_text())["status"] == "ok"


def test_an_empty_suite_json_skips_that_suite_only(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    run_tiny(tiny_suite, results)
    other = tmp_path / "other.toml"
    other.write_text(tiny_suite.read_text().replace('name = "tiny"', 'name = "other"'))
    run_tiny(other, results)
    (results / "tiny" / "suite.json").write_text("")
    capsys.readouterr()
    assert main(["report", "--results", str(results), "--format", "md"]) == 0
    out, err = capsys.readouterr()
    assert "## other" in out and "## tiny" not in out
    assert str(results / "tiny" / "suite.json") in err

    (results / "other" / "suite.json").write_text("{")
    assert main(["report", "--results", str(results), "--format", "md"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "suite.json" in err


def test_merge_does_not_copy_a_corrupt_result(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "node"
    run_tiny(tiny_suite, results)
    broken = corrupt_one(results)
    summary = merge_results([results], tmp_path / "merged")
    assert summary.copied == 1 and [d.folder for d in summary.damaged] == [broken.parent]
    assert not (tmp_path / "merged" / "tiny" / broken.parent.name).exists()
    assert str(broken) in summary.describe()
