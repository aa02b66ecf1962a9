"""A real finished results folder, made once per session, for tests that damage copies of it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.cli import main


@dataclass(frozen=True)
class FinishedRun:
    """A tiny suite (`suite`: baseline + one trick, one seed) run to the end into `results`."""

    suite: Path
    results: Path

    def copy(self, where: Path) -> Path:
        """A fresh copy of the results folder at `where`."""
        shutil.copytree(self.results, where)
        return where

    def trick_job(self, results: Path) -> Path:
        """The folder of the trick's job (not the baseline's) in a copy `results`."""
        (folder,) = (
            p.parent for p in results.glob("tiny/*/job.json") if '"baseline"' not in p.read_text()
        )
        return folder


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, tiny_suite_source: str) -> FinishedRun:
    root = tmp_path_factory.mktemp("finished-run")
    suite = root / "tiny.toml"
    suite.write_text(tiny_suite_source)
    results = root / "results"
    argv = ["run", str(suite), "--results", str(results), "--device", "cpu", "--quiet"]
    assert main([*argv, "--set", "train.steps=4", "--set", "seeds=[0]"]) == 0
    return FinishedRun(suite, results)
