"""Provenance lives in one module that the runner, reports and baselines all read."""

from __future__ import annotations

import platform
import re
import subprocess
from pathlib import Path

import pytest
import torch

from bench.provenance import PROVENANCE_KEYS, device_name, git_commit, versions


def test_git_commit_is_the_head_inside_a_repository_and_none_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert git_commit() is None
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
         "-m", "one"],
        check=True,
    )  # fmt: skip
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert git_commit() == head.strip() and re.fullmatch(r"[0-9a-f]{40}", git_commit())


def test_versions_name_the_libraries_that_compute_the_numbers() -> None:
    assert set(versions()) == {"gan-bench", "torch", "torchvision", "torch-fidelity", "python"}
    assert versions()["python"] == platform.python_version()
    assert device_name(torch.device("cpu")).startswith("cpu (")


def test_reports_and_baselines_check_the_same_protocol_keys() -> None:
    import bench.regress.baseline
    import bench.report.verdicts

    assert bench.report.verdicts.PROVENANCE_KEYS is PROVENANCE_KEYS
    assert bench.regress.baseline.PROVENANCE_KEYS is PROVENANCE_KEYS
    assert bench.regress.baseline.git_commit is bench.provenance.git_commit
    assert {"backbone", "backbone_version", "num_generated", "dataset_version"} <= set(
        PROVENANCE_KEYS
    )
