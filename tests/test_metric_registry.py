from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch_fidelity

from bench.config import DataConfig, EvalConfig, TuneConfig
from bench.errors import ConfigError, MetricsError, ResultsError
from bench.metric_registry import (
    IMAGE,
    LABELS,
    METRICS,
    SCORERS,
    STACKED,
    TOY2D,
    comparable_metrics,
    compute_function,
    default_margins,
    eval_requests,
    margins,
    metric,
    metric_names,
    regressed_metrics,
    requested,
    scored_in,
    tunable_metrics,
)
from bench.metrics import scored_metrics
from bench.metrics.fidelity import FIDELITY_REQUESTS
from bench.regress.baseline import SeedResult
from bench.report.verdicts import direction, metric_label

# What the reports compared before the registry, which way (the registry must keep these).
DIRECTIONS = {
    "fid": -1,
    "isc": 1,
    "kid": -1,
    "precision": 1,
    "recall": 1,
    "modes_covered": 1,
    "high_quality_fraction": 1,
    "kl_to_uniform": -1,
    "mode_kl": -1,
    "class_coverage": 1,
    "class_kl_to_real": -1,
}


def test_names_are_unique_and_directions_match():
    assert len(metric_names()) == len(METRICS)
    compared = {name: direction(name) for name in comparable_metrics()}
    assert compared.items() >= DIRECTIONS.items()
    assert list(compared)[: len(DIRECTIONS)] == list(DIRECTIONS)  # fid first: the default
    assert all(metric(name).direction in (-1, 1) for name in compared)
    assert metric_label("fid") == "FID" and metric_label("modes_covered") == "modes covered"
    assert metric("kid").better == "lower is better"


@pytest.mark.parametrize(
    ("scope", "scorer_input"),
    [
        (TOY2D, lambda: (torch.randn(50, 2), torch.eye(2), 0.1)),
        (STACKED, lambda: (torch.arange(30) % 1000, 1000)),
        (LABELS, lambda: (torch.arange(30) % 10, torch.arange(20) % 10, 10)),
    ],
)
def test_every_value_a_scorer_records_has_one_entry(scope, scorer_input):
    values = compute_function(SCORERS[scope])(*scorer_input())
    assert set(values) == {m.name for m in scored_in(scope)}


def test_image_metrics_name_torch_fidelity_keys_and_flags():
    keys = {value for name, value in vars(torch_fidelity).items() if name.startswith("KEY_METRIC")}
    image = [m for m in METRICS if IMAGE in m.scope]
    assert all(m.fidelity_key in keys for m in image if m.fidelity_key)
    assert FIDELITY_REQUESTS == ("fid", "isc", "kid", "prc")  # torch-fidelity's own flags
    assert [m.name for m in requested(["prc", "kid"])] == ["precision", "recall", "kid", "kid_std"]
    assert all(callable(compute_function(m.compute)) for m in image if m.compute)


def test_scored_metrics_are_comparable_entries():
    cfg = EvalConfig(metrics=tuple(eval_requests()))
    image = scored_metrics(DataConfig(), cfg, frozenset({"images", "labels"}))
    stacked = scored_metrics(DataConfig(name="stacked_mnist"), cfg, frozenset({"labels"}))
    toy = scored_metrics(DataConfig(name="ring"), cfg, frozenset({"toy2d"}))
    assert toy == ["modes_covered", "high_quality_fraction", "mode_kl"]
    assert stacked[-2:] == ["modes_covered", "kl_to_uniform"]
    assert image[-2:] == ["class_coverage", "class_kl_to_real"]
    assert set(image + stacked + toy) <= set(comparable_metrics())
    assert "isc_std" not in image


def test_tuned_and_regressed_metrics_are_minimised_and_recorded():
    assert tunable_metrics() == ["fid", "kid"]
    assert all(metric(m).direction == -1 and metric(m).request == m for m in tunable_metrics())
    assert regressed_metrics() == ["fid"]
    assert all(
        metric(m).direction == -1 and m in SeedResult.model_fields for m in regressed_metrics()
    )


def test_unknown_names_are_errors_that_name_the_allowed_values():
    with pytest.raises(MetricsError, match=r"unknown metric 'fidd'; known: fid, isc, .*class_kl"):
        metric("fidd")
    with pytest.raises(ResultsError, match=r"'isc_std': no known direction; comparable: \['fid'"):
        direction("isc_std")
    with pytest.raises(
        (ConfigError, ValueError), match="Input should be 'fid', 'isc', 'kid', 'prc'"
    ):
        EvalConfig(metrics=("fidd",))
    with pytest.raises((ConfigError, ValueError), match="'fid' or 'kid'"):
        TuneConfig(metric="isc")


def test_importing_the_registry_imports_neither_torch_nor_torch_fidelity():
    code = "import sys, bench.metric_registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_margins_are_positive_documented_and_overridden_by_the_suite() -> None:
    defaults = default_margins()
    assert defaults == {
        "fid": 1.0,
        "precision": 0.02,
        "recall": 0.02,
        "high_quality_fraction": 0.02,
        "coverage": 0.02,
    }
    assert all(metric(name).comparable and value > 0 for name, value in defaults.items())
    assert margins({"fid": 0.5, "kid": 0.001}) == defaults | {"fid": 0.5, "kid": 0.001}
    docs = (Path(__file__).resolve().parents[1] / "docs" / "statistics.md").read_text()
    section = docs.split("### Margins and their defaults")[1].split("\n## ")[0]
    for name in defaults:
        assert f"| {metric(name).label}" in section or f", {metric(name).label}" in section
