"""The failure detectors, re-judging recorded healthy and broken runs, keep their rates.

The traces (`detector_traces.json`) were recorded by `benchmarks/failure_detectors.py`;
docs/failure_detectors.md lists the configurations and the measured rates.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.run.detector_calibration import rates
from bench.train.monitor import FAILED, WARNINGS

TRACES = json.loads((Path(__file__).parent / "detector_traces.json").read_text())
FALSE_ALARMS, HITS, _ = rates(TRACES, [*FAILED, *WARNINGS])


def test_the_traces_cover_healthy_and_broken_runs() -> None:
    cases = {trace["case"] for trace in TRACES}
    assert {"healthy_digits", "healthy_ring", "lr_x1000", "strong_d_tiny_g"} <= cases
    assert sum(rate.runs for rate in HITS.values()) >= 10


@pytest.mark.parametrize("detector", [*FAILED, *WARNINGS])
def test_at_most_one_healthy_run_in_ten_raises_an_alarm(detector: str) -> None:
    rate = FALSE_ALARMS[detector]
    assert rate.runs >= 10 and rate.value <= 0.10, f"{detector}: {rate} of healthy runs"


@pytest.mark.parametrize("case", sorted(HITS))
def test_at_least_eight_broken_runs_in_ten_are_caught(case: str) -> None:
    rate = HITS[case]
    if rate.runs == 0:
        pytest.skip(f"no recorded run of {case} broke")
    assert rate.value >= 0.80, f"{case}: caught in {rate}"
