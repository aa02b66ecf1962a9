"""Input edge cases: each is one line naming what is wrong, exit code 2, and nothing written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.run.suite import prepare_suite


def refused(capsys, tmp_path: Path, *argv: str) -> str:
    """Run `bench argv`; assert exit 2, one line on stderr, no traceback, nothing written."""
    before = {p for p in tmp_path.rglob("*")}
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert {p for p in tmp_path.rglob("*")} == before, "nothing may be written on bad input"
    return err


def run_args(suite: Path, results: Path, *extra: str) -> list[str]:
    return ["run", str(suite), "--results", str(results), "--device", "cpu", "--quiet", *extra]


def test_non_utf8_suite_file(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    tiny_suite.write_bytes(tiny_suite.read_bytes().replace(b"a synthetic", b"") + b"# \xff\xfe\n")
    err = refused(capsys, tmp_path, *run_args(tiny_suite, tmp_path / "results"))
    assert str(tiny_suite) in err and "UTF-8" in err


def test_results_naming_an_existing_file(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "results.txt"
    not_a_folder.write_text("notes")
    err = refused(capsys, tmp_path, *run_args(tiny_suite, not_a_folder))
    assert str(not_a_folder) in err and "not a folder" in err
    err = refused(capsys, tmp_path, "report", "--results", str(not_a_folder))
    assert "not a folder" in err


def test_repeated_seed_is_refused_as_a_seed_problem(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    err = refused(capsys, tmp_path, *run_args(tiny_suite, tmp_path / "r", "--set", "seeds=[0, 0]"))
    assert "suite.seeds" in err and "seed 0" in err and "twice" in err
    assert "variant" not in err


@pytest.mark.parametrize(
    "table",
    ["levels = []", "levels = [{ sigma = 0.1 }]\nsigma = 0.2", "levels = 3"],
)
def test_levels_errors_name_the_suite_file(
    capsys, tiny_suite: Path, tmp_path: Path, table: str
) -> None:
    tiny_suite.write_text(tiny_suite.read_text() + f"\n[tricks.instance_noise]\n{table}\n")
    err = refused(capsys, tmp_path, *run_args(tiny_suite, tmp_path / "r"))
    assert str(tiny_suite) in err and "tricks.instance_noise" in err


@pytest.mark.parametrize(
    "overrides",
    [
        ["data.name=folder", "data.root=/nowhere/at/all"],
        ["data.name=mnist", "data.root=/"],
    ],
)
def test_data_folder_errors_name_the_suite_file(
    capsys, tiny_suite: Path, tmp_path: Path, overrides: list[str]
) -> None:
    sets = [arg for item in overrides for arg in ("--set", item)]
    err = refused(capsys, tmp_path, *run_args(tiny_suite, tmp_path / "r", *sets))
    assert str(tiny_suite) in err and "data.root" in err


def test_job_count_is_capped_before_any_config_is_built(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    levels = ", ".join(f"{{ sigma = {i / 100_000} }}" for i in range(1, 100_001))
    table = f"\n[tricks.instance_noise]\nlevels = [{levels}]\n"
    tiny_suite.write_text(tiny_suite.read_text() + table)
    started = time.perf_counter()
    err = refused(capsys, tmp_path, "run", str(tiny_suite), "--dry-run")
    assert time.perf_counter() - started < 10
    assert "200004 jobs" in err and "--max-jobs" in err and str(tiny_suite) in err


def test_max_jobs_raises_and_lowers_the_cap(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    err = refused(capsys, tmp_path, "run", str(tiny_suite), "--dry-run", "--max-jobs", "3")
    assert "4 jobs" in err and "cap of 3" in err
    assert main(["run", str(tiny_suite), "--dry-run", "--max-jobs", "4"]) == 0


def test_max_jobs_raises_the_default_cap_end_to_end(
    capsys, monkeypatch, tiny_suite: Path, tmp_path: Path
) -> None:
    """The 4-job suite over a default cap of 3: refused as it stands, accepted by `--max-jobs`
    in the dry run and in `bench run`'s preparation (whose design floor once re-expanded the
    suite under the default cap)."""
    monkeypatch.setattr("bench.expand.MAX_JOBS", 3)
    err = refused(capsys, tmp_path, "run", str(tiny_suite), "--dry-run")
    assert "4 jobs" in err and "cap of 3" in err and "--max-jobs" in err
    assert main(["run", str(tiny_suite), "--dry-run", "--max-jobs", "4"]) == 0
    assert "4 jobs in suite 'tiny'" in capsys.readouterr().out
    prepared = prepare_suite(tiny_suite, results=tmp_path / "r", max_jobs=4)
    assert len(prepared.jobs) == 4


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_device_cuda_without_a_gpu_writes_nothing(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    args = ["run", str(tiny_suite), "--results", str(tmp_path / "r"), "--device", "cuda"]
    err = refused(capsys, tmp_path, *args, "--quiet")
    assert "cuda" in err.lower()


def test_tune_to_an_unwritable_storage_writes_nothing(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    tiny_suite.write_text(
        tiny_suite.read_text()
        + '\n[tune]\nn_trials = 1\npruner = "none"\n[tune.params]\n'
        + '"train.lr_g" = { type = "float", low = 1e-4, high = 1e-2 }\n'
    )
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, so no folder can be made under it")
    before = {p for p in tmp_path.rglob("*")}
    code = main(["tune", str(tiny_suite), "--results", str(tmp_path / "r"), "--device", "cpu",
                 "--quiet", "--storage", f"sqlite:///{blocker}/sub/optuna.db"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "--storage" in err
    assert {p for p in tmp_path.rglob("*")} == before


def test_markdown_report_into_a_missing_folder(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert main(run_args(tiny_suite, results, "--set", "seeds=[0]", "--set", "train.steps=5")) == 0
    out = tmp_path / "missing" / "dir" / "r.md"
    assert main(["report", "--results", str(results), "--format", "md", "--out", str(out)]) == 0
    assert out.read_text().startswith("## tiny")
