"""Jobs of different suite definitions are never pooled as seeds of one variant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.config import load_suite
from bench.errors import ConfigError
from bench.expand import expand, plan_suite
from bench.regress.baseline import snapshot
from bench.report import load_results


def run(suite: Path, results: Path, steps: int, seeds: str) -> None:
    argv = ["run", str(suite), "--results", str(results), "--device", "cpu", "--quiet"]
    assert main([*argv, "--set", f"train.steps={steps}", "--set", f"seeds={seeds}"]) == 0


def test_a_changed_suite_is_not_pooled_with_its_old_results(
    capsys, tiny_suite: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    run(tiny_suite, results, steps=4, seeds="[0, 1]")
    old = json.loads((results / "tiny" / "suite.json").read_text())["revision"]
    run(tiny_suite, results, steps=6, seeds="[0]")
    capsys.readouterr()

    jobs = load_results(results)
    assert sorted(jobs["variant"]) == ["baseline", "one_sided_label_smoothing"]
    assert set(jobs["config.train.steps"]) == {6} and set(jobs["seed"]) == {0}
    assert set(snapshot(results, "tiny").variants["baseline"].seeds) == {0}

    assert main(["report", "--results", str(results), "--format", "md"]) == 0
    out, err = capsys.readouterr()
    assert "| baseline | 1 |" in out
    assert "4 finished jobs of 1 other definition" in out + err
    assert f"--revision {old}" in out + err

    assert main(["report", "--results", str(results), "--format", "md", "--revision", old]) == 0
    assert "| baseline | 2 |" in capsys.readouterr().out
    assert set(load_results(results, revision=old)["config.train.steps"]) == {4}

    assert main(["export", "--results", str(results), "--all-jobs", "--format", "json"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert len(every) == 6 and len({row["suite_revision"] for row in every}) == 2

    run(tiny_suite, results, steps=6, seeds="[0, 1]")  # more seeds: the same definition
    assert json.loads((results / "tiny" / "suite.json").read_text())["revision"] != old
    jobs = load_results(results)
    assert len(jobs) == 4 and set(jobs["config.train.steps"]) == {6}


def test_adding_seeds_keeps_the_revision_and_a_changed_value_does_not(tiny_suite: Path) -> None:
    revision = {job.revision for job in plan_suite(tiny_suite)[1]}
    more = {job.revision for job in plan_suite(tiny_suite, ["seeds=[0, 1, 2, 7]"])[1]}
    longer = {job.revision for job in plan_suite(tiny_suite, ["train.steps=11"])[1]}
    assert len(revision) == 1 and revision == more and longer.isdisjoint(revision)


@pytest.mark.parametrize(("design", "name"), [("variants", "baseline")])
def test_a_variant_named_like_the_reference_is_refused(
    tiny_suite: Path, design: str, name: str
) -> None:
    text = tiny_suite.read_text().replace("[tricks.one_sided_label_smoothing]", "")
    text = text.replace('design = "one_at_a_time"', f'design = "{design}"')
    tiny_suite.write_text(text + f'\n[variants.{name}]\nset = {{ "train.lr_d" = 1e-3 }}\n')
    with pytest.raises(ConfigError, match=f"variants.{name}.*reference"):
        expand(load_suite(tiny_suite), str(tiny_suite))


def test_a_suite_recorded_before_revisions_refuses_to_pool_different_configs(
    capsys, tmp_path: Path
) -> None:
    suite = tmp_path / "results" / "old"
    suite.mkdir(parents=True)
    (suite / "suite.json").write_text(json.dumps({"name": "old", "design": "one_at_a_time"}))
    for job_id, steps in (("a" * 12, 40), ("b" * 12, 50)):
        record = {"job_id": job_id, "suite": "old", "variant": "baseline", "seed": 0,
                  "status": "ok", "metrics": {"fid": 1.0}, "config": {"train": {"steps": steps}},
                  "finished_at": "2026-01-01T00:00:00+00:00"}  # fmt: skip
        (suite / job_id).mkdir()
        (suite / job_id / "result.json").write_text(json.dumps(record))
    assert main(["report", "--results", str(tmp_path / "results"), "--format", "md"]) == 2
    err = capsys.readouterr().err
    assert "variant 'baseline' has jobs of 2 different configs" in err
    assert main(["export", "--results", str(tmp_path / "results"), "--all-jobs"]) == 0
