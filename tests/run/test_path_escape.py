"""A suite can only write inside its results folder, whatever its name says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ResultsError
from bench.run.store.results import ResultsStore

ESCAPING = ["..", ".", "../elsewhere", "a/b", "", "/tmp/x"]


def tree(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


@pytest.mark.parametrize("name", ESCAPING)
def test_the_store_refuses_to_write_outside_its_folder(tmp_path: Path, name: str) -> None:
    store = ResultsStore(tmp_path / "results")
    with pytest.raises(ResultsError, match="inside"):
        store.write_suite(name, {"name": name})
    with pytest.raises(ResultsError, match="inside"):
        store.job_dir("tiny", name)
    assert tree(tmp_path) == set()


@pytest.mark.parametrize("name", ["..", "."])
def test_suite_named_dot_or_dot_dot_in_the_file_is_refused(
    capsys, tiny_suite: Path, tmp_path: Path, name: str
) -> None:
    tiny_suite.write_text(tiny_suite.read_text().replace('name = "tiny"', f'name = "{name}"'))
    before = tree(tmp_path)
    code = main(["run", str(tiny_suite), "--results", str(tmp_path / "r" / "results"),
                 "--device", "cpu", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "suite.name" in err and str(tiny_suite) in err
    assert tree(tmp_path) == before


def test_suite_named_dot_dot_by_set_is_refused(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    before = tree(tmp_path)
    code = main(["run", str(tiny_suite), "--results", str(tmp_path / "results"), "--set",
                 'name=".."', "--device", "cpu", "--quiet"])  # fmt: skip
    assert code == 2
    assert "suite.name" in capsys.readouterr().err
    assert tree(tmp_path) == before
