"""Calibration of the failure detectors: healthy and broken runs, traces, and rates.

Each case is a configuration known to train well (healthy) or known to break, the outcome
that shows a run did what the case is about (`qualifies`: a recovered lr x1000 seed is not
broken; a vanilla ring run that collapsed onto one mode is not healthy), and for a broken case
what counts as catching it. A trace is a run's history rows (what the detectors read) with
its final metrics; `rates` re-judges stored traces with the detectors (`monitor.judge_history`), so
the rates can be re-measured after changing a threshold without training again.
`benchmarks/failure_detectors.py` records the traces; docs/failure_detectors.md has the rates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import torch

from bench.config import JobConfig, apply_overrides, validate
from bench.data import load_dataset
from bench.metrics import evaluate
from bench.run.job.sampler import Sampler
from bench.train.loop import train
from bench.train.monitor import FAILED, Monitor, judge_history
from bench.tricks.registry import build_tricks, resolve_tricks

DIGITS = {
    "data": {"name": "digits"},
    "model": {"arch": "dcgan", "latent_dim": 32, "g_width": 32, "d_width": 32},
    "train": {"steps": 300, "batch_size": 64, "log_every": 25},
    "eval": {"metrics": ["fid"], "num_samples": 1000, "backbone": "domain"},
}
RING = {
    "data": {"name": "ring8"},
    "model": {"arch": "mlp", "latent_dim": 16, "mlp_hidden": 128, "mlp_layers": 3},
    "train": {"steps": 1500, "batch_size": 256, "lr_g": 1e-3, "lr_d": 1e-3, "log_every": 100},
    "eval": {"num_samples": 2500},
}
Trace = dict[str, Any]


def collapsed(metrics: dict[str, float]) -> bool:
    """A 2-D mixture run whose sharp samples sit on at most two modes, mostly on one."""
    return (
        metrics.get("modes_covered", 8.0) <= 2.0
        and metrics.get("mode_kl", 0.0) > 1.0
        and metrics.get("high_quality_fraction", 0.0) >= 0.05
    )


@dataclass(frozen=True)
class Case:
    """A configuration, whether it is healthy, which runs count, and what catches a broken one."""

    name: str
    base: dict[str, Any]
    overrides: tuple[str, ...]
    healthy: bool
    qualifies: Callable[[dict[str, float]], bool] = lambda metrics: True
    caught_by: frozenset[str] = frozenset(FAILED)  # detectors that count as catching it

    def config(self) -> JobConfig:
        raw = apply_overrides({"base": self.base}, list(self.overrides))["base"]
        return validate(JobConfig, raw, self.name)


CASES = {
    case.name: case
    for case in (
        Case("healthy_digits", DIGITS, (), healthy=True),
        Case("healthy_ring", RING, (), healthy=True, qualifies=lambda m: not collapsed(m)),
        Case(
            "lr_x1000",
            DIGITS,
            ("train.lr_g=0.2", "train.lr_d=0.2"),
            healthy=False,
            qualifies=lambda metrics: metrics.get("fid", float("inf")) > 50.0,
        ),
        Case(
            "strong_d_tiny_g",
            DIGITS,
            ("model.g_width=4", "model.d_width=128", "train.lr_d=2e-3"),
            healthy=False,
        ),
        Case(
            "ring_d_steps_5",
            RING,
            ("train.d_steps=5",),
            healthy=False,
            qualifies=collapsed,
            caught_by=frozenset({"diversity_collapse", *FAILED}),
        ),
    )
}


def record(case: Case, seed: int) -> Trace:
    """Train `case` with `seed` to the last step and score it: its trace.

    Divergence does not stop the run here, so the trace can be re-judged under any threshold
    (a run cut short by today's detectors could not show what tomorrow's would do).
    """
    cfg = case.config()
    dataset = load_dataset(cfg.data)
    tricks = build_tricks(resolve_tricks(cfg.tricks, case.name, dataset.capabilities))
    cpu = torch.device("cpu")
    with patch.object(Monitor, "_divergence", lambda *args: None):
        outcome = train(cfg, seed, dataset.train, tricks, cpu, labels=None)
    sampler = Sampler(outcome, cfg.eval.seed, dataset.test)
    metrics = evaluate(sampler.generate, dataset, cfg.eval, cpu).values
    rows = [{k: float(f"{v:.5g}") for k, v in row.items()} for row in outcome.history]
    return {
        "case": case.name,
        "seed": seed,
        "rows": rows,
        "metrics": {k: v for k, v in metrics.items() if v is not None},
    }


def detectors_fired(trace: Trace, collapse_floor: float | None = 0.0) -> set[str]:
    """Every detector that fires anywhere in the trace (re-judged with today's thresholds)."""
    events, divergence = judge_history(trace["rows"], collapse_floor)
    fired = {event.detector for event in events}
    return fired | ({divergence.detector} if divergence else set())


@dataclass(frozen=True)
class Rate:
    """`hits` runs of `runs` in which the detector(s) fired."""

    hits: int
    runs: int

    @property
    def value(self) -> float:
        return self.hits / self.runs if self.runs else float("nan")

    def __str__(self) -> str:
        return f"{self.hits}/{self.runs} ({self.value:.0%})"


def rates(
    traces: list[Trace], detectors: list[str]
) -> tuple[dict[str, Rate], dict[str, Rate], dict[str, Rate]]:
    """(false alarms per detector over healthy runs, hit rate per broken case, and how often
    each detector fires over all broken runs).

    A run counts only if it did what its case is about (`Case.qualifies` on its metrics); a
    broken one is caught when any of the case's `caught_by` detectors fired.
    """
    traces = [t for t in traces if CASES[t["case"]].qualifies(t["metrics"])]
    healthy = [t for t in traces if CASES[t["case"]].healthy]
    fired = {id(t): detectors_fired(t) for t in traces}
    false_alarms = {
        name: Rate(sum(name in fired[id(t)] for t in healthy), len(healthy)) for name in detectors
    }
    hits: dict[str, Rate] = {}
    for case in CASES.values():
        if case.healthy:
            continue
        broken = [t for t in traces if t["case"] == case.name]
        caught = sum(bool(fired[id(t)] & case.caught_by) for t in broken)
        hits[case.name] = Rate(caught, len(broken))
    broken = [t for t in traces if not CASES[t["case"]].healthy]
    firing = {
        name: Rate(sum(name in fired[id(t)] for t in broken), len(broken)) for name in detectors
    }
    return false_alarms, hits, firing
