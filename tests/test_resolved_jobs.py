"""Jobs hold every trick parameter, defaults filled and typed once, at expansion: what is
hashed is what ran."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.expand import Job, plan_suite
from bench.tricks.instance_noise import InstanceNoiseParams
from bench.tricks.registry import Trick


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


def test_a_job_carries_its_trick_parameters_typed_and_they_survive_its_record(
    tiny_suite: Path,
) -> None:
    with_trick(tiny_suite, "instance_noise]\nsigma = 0.3")
    _, jobs = plan_suite(tiny_suite)
    noisy = next(job for job in jobs if job.variant == "instance_noise")
    assert isinstance(noisy.tricks["instance_noise"], InstanceNoiseParams)
    assert noisy.tricks["instance_noise"].sigma == 0.3
    for again in (Job.from_record(noisy.record(), "job.json"), pickle.loads(pickle.dumps(noisy))):
        assert again.id == noisy.id and again.revision == noisy.revision
        assert again.tricks == noisy.tricks and again.factors == noisy.factors


def test_planning_checks_tricks_from_their_classes_and_builds_none(
    tiny_suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_) -> None:
        raise AssertionError("a trick was built while planning")

    monkeypatch.setattr(Trick, "__init__", refuse)
    with_trick(tiny_suite, "hinge_loss]\n[tricks.soft_labels]")
    _, jobs = plan_suite(tiny_suite)
    assert {job.variant for job in jobs} == {"baseline", "hinge_loss", "soft_labels"}
    with pytest.raises(ConfigError, match="'hinge_loss' and 'soft_labels' cannot be combined"):
        plan_suite(tiny_suite, ["design=leave_one_out"])


def test_a_hand_edited_job_json_is_refused_naming_the_file_and_key(
    tiny_suite: Path, tmp_path: Path
) -> None:
    _, jobs = plan_suite(with_trick(tiny_suite, "instance_noise]"))
    record = next(job for job in jobs if job.variant == "instance_noise").record()
    record["config"]["tricks"]["instance_noise"]["sigma"] = "loud"
    with pytest.raises(ConfigError, match=r"job\.json: key 'tricks\.instance_noise\.sigma' = "):
        Job.from_record(record, "job.json")
