"""The `bench` command: bad input is one clear line and exit code 2; a suite runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["train.stepz=3"], "unknown key 'base.train.stepz'; allowed here:"),
        (["tricks.label_smoothing={}"], "unknown trick 'label_smoothing'; known tricks:"),
        (["data.name=imagenet"], "key 'data.name' = 'imagenet': unknown dataset 'imagenet'; known"),
        (["train.lr_d=-1"], "'base.train.lr_d' = -1: Input should be greater than 0"),
        (["data.name=mnist", "data.root=/nowhere"], "data.root"),
        (["base.tricks.soft_labels={}"], "'soft_labels' and 'one_sided_label_smoothing' cannot"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_starts_nothing(
    capsys, tiny_suite: Path, tmp_path: Path, overrides: list[str], expected: str
) -> None:
    results = tmp_path / "results"
    sets = [arg for item in overrides for arg in ("--set", item)]
    code, _, err = run_cli(capsys, "run", str(tiny_suite), "--results", str(results), *sets)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err
    assert "Traceback" not in err
    assert not results.exists(), "no job may start on bad input"


def test_malformed_toml_names_the_file(capsys, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[suite]\nname = \n")
    code, _, err = run_cli(capsys, "run", str(broken))
    assert code == 2 and "broken.toml: not valid TOML" in err


def test_dry_run_prints_the_job_table_and_runs_nothing(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    code, out, _ = run_cli(capsys, "run", str(tiny_suite), "--dry-run", "--results", str(results))
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["job", "id", "variant"]
    assert sum("pending" in line for line in lines) == 5  # 4 jobs and their count
    assert "states: 4 pending" in out
    assert "4 jobs in suite 'tiny'" in lines[-1]
    assert not results.exists()


DIVERGING = """
[variants.overpowered_d]
set = { "train.lr_d" = 0.05, "train.lr_g" = 1e-6, "train.d_steps" = 5, "train.steps" = 200 }
"""


def test_suite_with_a_diverging_variant_runs_to_the_end(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    suite = tmp_path / "diverging.toml"
    text = tiny_suite.read_text().replace('"one_at_a_time"', '"variants"')
    suite.write_text(text.split("[tricks.")[0] + DIVERGING)
    results = tmp_path / "results"
    code, out, _ = run_cli(capsys, "run", str(suite), "--results", str(results), "--quiet")
    assert code == 0, out
    records = [json.loads(p.read_text()) for p in results.glob("tiny/*/result.json")]
    by_status = {(r["variant"], r["status"]) for r in records}
    assert by_status == {("baseline", "ok"), ("overpowered_d", "diverged")}
    diverged = next(r for r in records if r["status"] == "diverged")
    assert diverged["diverged_at"] < 200 and diverged["reason"]


def test_run_then_export_and_report(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    results, report = tmp_path / "results", tmp_path / "report.html"
    assert run_cli(capsys, "run", str(tiny_suite), "--results", str(results), "--quiet")[0] == 0
    for job in results.glob("tiny/*/"):
        record = json.loads((job / "result.json").read_text())
        assert record["metrics"]["fid"] > 0
        assert record["metric_provenance"]["backbone"] == "domain"
        assert (job / "samples.png").stat().st_size > 0
        assert (job / "history.csv").read_text().startswith("step,d_loss")

    code, out, _ = run_cli(capsys, "export", "--results", str(results), "--format", "csv")
    assert code == 0 and len(out.strip().splitlines()) == 1 + 4

    code, out, _ = run_cli(capsys, "report", "--results", str(results), "--out", str(report))
    assert code == 0 and report.is_file()
    assert "one_sided_label_smoothing" in report.read_text()

    code, out, _ = run_cli(capsys, "run", str(tiny_suite), "--results", str(results), "--quiet")
    assert code == 0 and "4 already finished" in out


def test_tricks_lists_and_describes(capsys) -> None:
    code, out, _ = run_cli(capsys, "tricks")
    assert code == 0 and "instance_noise" in out and "Sønderby" in out
    code, out, _ = run_cli(capsys, "tricks", "noisy_labels")
    assert code == 0 and "flip_probability = 0.05" in out
    code, _, err = run_cli(capsys, "tricks", "nope")
    assert code == 2 and "unknown trick 'nope'" in err


def test_commands_share_one_definition_of_each_common_option() -> None:
    from bench.cli import build_parser

    parser = build_parser()
    shared = ["--results", "r", "--device", "cpu", "--set", "a=1", "--set", "b=2", "--quiet"]
    for command in (["run", "s.toml"], ["tune", "s.toml"], ["validate"]):
        args = parser.parse_args([*command, *shared])
        assert (args.results, args.device, args.overrides, args.quiet) == (
            "r", "cpu", ["a=1", "b=2"], True,
        )  # fmt: skip
    for command in (["report"], ["export"], ["regress", "--baseline", "b.json"]):
        assert parser.parse_args(command).results == "results"
    assert parser.parse_args(["report", "--suite", "a", "--suite", "b"]).suites == ["a", "b"]
    assert parser.parse_args(["plan", "s.toml", "--pilot", "p", "--set", "x=1"]).overrides == [
        "x=1"
    ]


@pytest.mark.parametrize(
    "argv", [["tricks"], ["tricks", "--markdown"], ["tricks", "wasserstein_loss"]]
)
def test_a_closed_output_pipe_ends_a_command_quietly(argv: list[str]) -> None:
    """`bench tricks | head -1`, with the reader gone before the first line is written."""
    repository = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repository)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    process.stdout.close()  # before the interpreter has even imported bench
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, err
    assert err == ""
