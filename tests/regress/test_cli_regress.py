"""`bench regress`: exit 0 without regression, 1 with one, 2 on bad input; end to end on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_codes_on_synthetic_runs(capsys, result_set, synthetic, tmp_path: Path) -> None:
    baseline = str(tmp_path / "baseline.json")
    results = str(result_set.write(synthetic(0)))
    code, out, _ = run_cli(
        capsys, "regress", "--baseline", baseline, "--results", results, "--update-baseline"
    )
    assert code == 0 and "5 variants, 25 jobs" in out
    slower = synthetic(1, speed_scale={"spectral_norm": 0.7})
    results = str(result_set.write(slower, finished_at="2025-02-01T02:00:00+00:00"))
    history, bench_json = tmp_path / "history.jsonl", tmp_path / "bench.json"
    code, out, _ = run_cli(
        capsys,
        *("regress", "--baseline", baseline, "--results", results),
        *("--history", str(history), "--json", str(bench_json)),
    )
    assert code == 1
    assert "REGRESSED" in out and "1 regression(s) in 15 checks" in out
    assert len(history.read_text().splitlines()) == 15
    assert len(json.loads(bench_json.read_text())) == 15


def test_bad_input_is_one_line_exit_2(capsys, result_set, synthetic, tmp_path: Path) -> None:
    results = str(result_set.write(synthetic(0)))
    code, _, err = run_cli(
        capsys, "regress", "--baseline", str(tmp_path / "none.json"), "--results", results
    )
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "no such baseline file" in err
    code, _, err = run_cli(
        capsys,
        *("regress", "--baseline", "b.json", "--update-baseline", "--json", "x.json"),
    )
    assert code == 2 and "drop --history and --json" in err


@pytest.mark.slow
def test_real_run_passes_its_own_baseline_and_fails_a_better_one(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    results, baseline = str(tmp_path / "results"), tmp_path / "baseline.json"
    code, _, _ = run_cli(capsys, "run", str(tiny_suite), "--results", results, "--device", "cpu")
    assert code == 0
    regress = ("regress", "--baseline", str(baseline), "--results", results)
    assert run_cli(capsys, *regress, "--update-baseline")[0] == 0
    code, out, _ = run_cli(capsys, *regress)
    assert code == 0, out
    assert "no regression in 6 checks of suite 'tiny'" in out

    raw = json.loads(baseline.read_text())
    for seed in raw["variants"]["baseline"]["seeds"].values():
        seed["fid"] /= 4  # a baseline edited to be better: FID a quarter of what it was
    baseline.write_text(json.dumps(raw))
    code, out, _ = run_cli(capsys, *regress)
    assert code == 1, out
    assert "1 regression(s) in 6 checks" in out
    assert "baseline fid REGRESSED: median FID " in out
