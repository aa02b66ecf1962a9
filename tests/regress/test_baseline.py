"""Baselines: written from the latest run with provenance, read back, refused when mismatched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import ConfigError, ResultsError
from bench.regress import BaselineError, regress, update_baseline
from bench.regress.baseline import load_baseline, snapshot


def test_update_baseline_round_trips(result_set, synthetic, tmp_path: Path) -> None:
    results = result_set.write(synthetic(0))
    path = tmp_path / "baseline.json"
    written = update_baseline(results, path)
    raw = json.loads(path.read_text())
    assert raw["format"] == "gan-bench-baseline/1" and raw["suite"] == "nightly"
    assert raw["provenance"]["device"] == "NVIDIA H100 80GB HBM3"
    assert raw["provenance"]["metric"]["backbone"] == "domain"
    assert raw["provenance"]["versions"]["torch"] == "2.14.1"
    assert "commit" in raw["provenance"]
    assert raw["tolerances"] == {
        "confidence": 0.95,
        "fid_increase": 0.1,
        "new_failures": 1,
        "throughput_drop": 0.1,
    }
    assert load_baseline(path) == written
    assert written.variants == snapshot(results).variants
    assert not regress(results, path).regressions


def test_update_keeps_the_tolerances_of_the_file_it_replaces(
    result_set, synthetic, tmp_path: Path
) -> None:
    results = result_set.write(synthetic(0))
    path = tmp_path / "baseline.json"
    update_baseline(results, path)
    raw = json.loads(path.read_text())
    raw["tolerances"]["fid_increase"] = 0.25
    path.write_text(json.dumps(raw))
    assert update_baseline(results, path).tolerances.fid_increase == 0.25


def test_the_latest_job_of_each_seed_is_the_run(result_set, synthetic) -> None:
    result_set.write(synthetic(0), finished_at="2025-01-30T02:00:00+00:00")
    results = result_set.write(
        synthetic(1, fid_scale={"baseline": 10.0}), finished_at="2025-01-31T02:00:00+00:00"
    )
    run = snapshot(results)
    assert run.variants["baseline"].seeds[0].fid > 100
    assert run.provenance.recorded_at == "2025-01-31T02:00:00+00:00"


def test_missing_baseline_is_a_clear_error(result_set, synthetic, tmp_path: Path) -> None:
    results = result_set.write(synthetic(0))
    with pytest.raises(
        BaselineError, match=r"no such baseline file; record one .*--update-baseline"
    ):
        regress(results, tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "other/1"}', "not a gan-bench baseline"),
        ('{"format": "gan-bench-baseline/1", "suite": "nightly"}', "missing key 'provenance'"),
    ],
)
def test_malformed_baseline_is_a_clear_error(
    result_set, synthetic, tmp_path: Path, content: str, expected: str
) -> None:
    results = result_set.write(synthetic(0))
    path = tmp_path / "baseline.json"
    path.write_text(content)
    with pytest.raises((BaselineError, ConfigError), match=expected) as caught:
        regress(results, path)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"device": "NVIDIA A100-SXM4-40GB"}, "recorded on 'NVIDIA H100 80GB HBM3', this run on"),
        (
            {"metric": {"backbone": "inception-v3-compat", "backbone_version": "x"}},
            "'backbone' is 'domain' in the baseline but 'inception-v3-compat'",
        ),
        ({"suite": "other"}, "baseline of suite 'nightly', results of suite 'other'"),
    ],
)
def test_mismatched_baseline_is_refused(
    result_set, synthetic, tmp_path: Path, change: dict, expected: str
) -> None:
    path = tmp_path / "baseline.json"
    update_baseline(result_set.write(synthetic(0)), path)
    results = result_set.write(synthetic(1), finished_at="2025-02-01T02:00:00+00:00", **change)
    with pytest.raises(BaselineError, match=expected) as caught:
        regress(results, path, change.get("suite"))
    assert caught.value.exit_code == 2


def test_changed_config_or_missing_variant_is_refused(
    result_set, synthetic, tmp_path: Path
) -> None:
    path = tmp_path / "baseline.json"
    results = result_set.write(synthetic(0))
    update_baseline(results, path)
    raw = json.loads(path.read_text())
    raw["variants"]["baseline"]["config"]["train"]["steps"] = 5000
    raw["variants"]["baseline"]["config"]["data"]["root"] = "/elsewhere"  # not compared
    path.write_text(json.dumps(raw))
    with pytest.raises(BaselineError, match=r"'baseline' is configured differently .*3000"):
        regress(results, path)
    raw["variants"]["baseline"]["config"]["train"]["steps"] = 3000
    raw["variants"]["gone"] = raw["variants"]["baseline"]
    path.write_text(json.dumps(raw))
    with pytest.raises(BaselineError, match=r"baseline variants \['gone'\] have no finished jobs"):
        regress(results, path)


def test_a_run_on_several_devices_is_refused(result_set, synthetic) -> None:
    result_set.write(synthetic(0), finished_at="2025-01-30T02:00:00+00:00")
    values = {"baseline": {9: (20.0, 150.0)}}
    results = result_set.write(values, device="NVIDIA A10G")
    with pytest.raises(ResultsError, match="jobs ran on several devices"):
        snapshot(results)
