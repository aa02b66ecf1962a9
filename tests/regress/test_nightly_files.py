"""The shipped nightly suite and workflow stay valid: the suite expands, every command parses."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from bench.cli import build_parser
from bench.expand import plan_suite

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "nightly-gpu.yml"
yaml = pytest.importorskip("yaml")  # PyYAML comes with optuna


def test_nightly_suite_is_five_variants_by_five_seeds() -> None:
    suite, jobs = plan_suite(REPO / "suites" / "nightly.toml")
    assert suite.suite.name == "nightly"
    assert {job.variant for job in jobs} == {
        "baseline",
        "instance_noise",
        "minibatch_stddev",
        "one_sided_label_smoothing",
        "spectral_norm",
    }
    assert len(jobs) == 25 and {job.seed for job in jobs} == {0, 1, 2, 3, 4}
    assert {job.config.data.name for job in jobs} == {"mnist"}


def test_workflow_is_nightly_on_a_gpu_runner_and_its_commands_parse() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert "schedule" in workflow[True]  # YAML 1.1 reads the key `on` as True
    job = workflow["jobs"]["regress"]
    assert job["runs-on"] == ["self-hosted", "gpu"]
    commands = [
        shlex.split(part)
        for step in job["steps"]
        for part in step.get("run", "").split("|")
        if ".venv/bin/bench " in part
    ]
    assert [argv[1] for argv in commands] == ["run", "regress", "report"]
    for argv in commands:
        build_parser().parse_args(argv[1:])
    uploaded = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert "nightly-results/nightly.html" in uploaded["with"]["path"]
    assert "nightly-results/regress-history.jsonl" in uploaded["with"]["path"]
