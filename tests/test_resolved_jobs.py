"""Jobs hold every trick parameter, defaults filled: what is hashed is what ran."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli import main
from bench.expand import plan_suite


def with_trick(suite: Path, table: str) -> Path:
    suite.write_text(
        suite.read_text().replace("[tricks.one_sided_label_smoothing]", f"[tricks.{table}")
    )
    return suite


def test_an_empty_trick_table_is_the_same_job_as_its_defaults_spelt_out(
    tiny_suite: Path, tmp_path: Path
) -> None:
    spelt = tmp_path / "spelt.toml"
    spelt.write_text(tiny_suite.read_text())
    with_trick(tiny_suite, "instance_noise]")
    with_trick(spelt, "instance_noise]\nsigma = 0.1")
    _, empty_jobs = plan_suite(tiny_suite)
    _, spelt_jobs = plan_suite(spelt)
    assert [job.id for job in empty_jobs] == [job.id for job in spelt_jobs]
    noisy = next(job for job in empty_jobs if job.variant == "instance_noise")
    assert noisy.config.tricks["instance_noise"] == {"sigma": 0.1, "anneal_fraction": 1.0}


def test_job_json_records_the_parameters_that_ran(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    with_trick(tiny_suite, "instance_noise]")
    results = tmp_path / "results"
    argv = ["run", str(tiny_suite), "--results", str(results), "--device", "cpu", "--quiet"]
    assert main([*argv, "--set", "seeds=[0]", "--set", "train.steps=5"]) == 0
    records = [json.loads(p.read_text()) for p in results.glob("tiny/*/job.json")]
    noisy = next(r for r in records if r["variant"] == "instance_noise")
    assert noisy["config"]["tricks"] == {"instance_noise": {"sigma": 0.1, "anneal_fraction": 1.0}}
