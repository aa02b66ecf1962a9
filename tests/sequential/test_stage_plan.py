"""Asking for sequential seeds: the suite table, `--until-decided`, `--dry-run`, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.run.suite import run_suite


def bench(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("seeds", "expected"),
    [
        ("{ start = 8, step = 0, max = 32 }", "seeds.step = 0: expected at least 1"),
        ("{ start = 8, step = 4 }", "missing key 'seeds.max'"),
        ("{ start = 8, step = 4, max = 4 }", "seeds.max = 4: expected from seeds.start (8)"),
        ("{ start = 1, step = 4, max = 8 }", "seeds.start = 1: expected at least 2"),
        ("{ start = 8, step = 4, max = 32, every = 2 }", "unknown key 'seeds.every'"),
        ("{ start = 8.5, step = 4, max = 32 }", "seeds.start = 8.5: expected a whole number"),
    ],
)
def test_a_bad_table_of_seeds_is_one_line_naming_the_key(
    capsys, ring_suite, tmp_path: Path, seeds: str, expected: str
) -> None:
    results = tmp_path / "results"
    code, _, err = bench(
        capsys, "run", str(ring_suite()), "--results", str(results), "--set", f"seeds={seeds}"
    )
    assert code == 2 and err.count("\n") == 1 and "key 'suite.seeds'" in err
    assert expected in err
    assert not results.exists()


def test_dry_run_shows_the_stages_and_the_worst_case(capsys, ring_suite, tmp_path) -> None:
    results = tmp_path / "results"
    code, out, _ = bench(capsys, "run", str(ring_suite()), "--dry-run", "--results", str(results))
    assert code == 0
    assert "sequential seeds: 3 stages, Pocock-type (Lan-DeMets) alpha spending" in out
    assert "worst case: 36 jobs (3 variants x 12 seeds)" in out
    stage_lines = [line.split() for line in out.splitlines() if line[:5].strip() in "123"]
    assert [line[:3] for line in stage_lines[-3:]] == [
        ["1", "8", "0..7"], ["2", "10", "8..9"], ["3", "12", "10..11"]
    ]  # fmt: skip
    assert not results.exists()


def test_until_decided_makes_a_list_of_seeds_the_first_stage(capsys, ring_suite, tmp_path):
    suite = ring_suite()
    listed = ["--set", "seeds=[3, 5, 7, 9, 11, 13, 15, 17]"]
    code, out, _ = bench(
        capsys, "run", str(suite), *listed, "--until-decided", "--max-seeds", "16", "--dry-run"
    )
    assert code == 0
    assert "worst case: 48 jobs (3 variants x 16 seeds)" in out
    # the listed seeds first, then the smallest unused ones, 4 (half the listed) per stage
    assert "    2     12  0,1,2,4" in out and "    3     16  6,8,10,12" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--until-decided"], "--until-decided and --max-seeds N go together"),
        (["--max-seeds", "12"], "--until-decided and --max-seeds N go together"),
        (["--until-decided", "--max-seeds", "4"], "--max-seeds 4: expected at least the 8"),
        (["--until-decided", "--max-seeds", "16", "--seed-step", "0"], "--seed-step 0"),
    ],
)
def test_bad_until_decided_options_are_one_line(capsys, ring_suite, tmp_path, argv, expected):
    suite = ring_suite()
    listed = ["--set", "seeds=[0, 1, 2, 3, 4, 5, 6, 7]", "--results", str(tmp_path / "r")]
    code, _, err = bench(capsys, "run", str(suite), *listed, *argv)
    assert code == 2 and err.count("\n") == 1 and expected in err, err


def test_until_decided_on_a_suite_with_stages_is_refused(capsys, ring_suite) -> None:
    code, _, err = bench(capsys, "run", str(ring_suite()), "--until-decided", "--max-seeds", "16")
    assert code == 2 and "already a table of stages" in err


def test_benjamini_hochberg_with_sequential_seeds_is_refused(capsys, ring_suite, tmp_path):
    code, _, err = bench(capsys, "run", str(ring_suite()), "--set", "correction=bh", "--dry-run")
    assert code == 2 and "Holm's correction only" in err


def test_stages_that_can_never_decide_are_refused_unless_exploratory(capsys, ring_suite):
    few = ["--set", "seeds={ start = 2, step = 1, max = 4 }", "--dry-run"]
    code, _, err = bench(capsys, "run", str(ring_suite()), *few)
    assert code == 2 and "no stage of [2, 3, 4] seeds can reach a verdict" in err
    code, out, _ = bench(capsys, "run", str(ring_suite()), *few, "--set", "exploratory='test'")
    assert code == 0 and "CANNOT decide anything at any stage" in out


def test_the_plain_runner_refuses_a_sequential_suite_before_writing(ring_suite, tmp_path):
    with pytest.raises(ConfigError, match="table of stages"):
        run_suite(ring_suite(), results=tmp_path / "results", device="cpu", progress=False)
    assert not (tmp_path / "results").exists()


def test_bench_run_prints_each_decision_and_the_jobs_saved(
    capsys, ring_suite, planted_executor, tmp_path
) -> None:
    code, out, _ = bench(capsys, "run", str(ring_suite()), "--results", str(tmp_path), "--quiet")
    assert code == 0
    assert "dead: hurts at stage 1 (8 seeds)" in out
    assert "stages: 3 of 3; jobs: 32 of the worst case 36 (4 saved)" in out
    assert out.startswith("32 jobs: 0 already finished, 32 ok")
