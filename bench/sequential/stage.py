"""One stage of a sequential suite: each open comparison tested on the stage's paired seeds.

The stage's finished jobs are read as a report reads them (`bench.report.table`: the suite's
current revision, one code fingerprint), on the primary metric (`[suite] primary_metric`,
else FID where scored); outcomes as everywhere (`bench.report.comparison.outcomes`: a failed
seed is worse than any finished one). Per comparison: the paired differences over the stage's
seeds, the exact two-sided signed-rank p-value, the statistic's sign and, with a margin, the
TOST p-value (`bench.stats.sequential.stage_test`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.metric_registry import comparable_metrics
from bench.report.budget import jobs_at
from bench.report.comparison import outcomes
from bench.report.headline import primary_metric
from bench.report.table import load_selection
from bench.report.verdicts import direction
from bench.stats.ranktests import signed_rank_pvalue
from bench.stats.sequential import stage_test


@dataclass(frozen=True)
class StageTest:
    """One comparison at one stage: what it was tested on and the test's results."""

    variant: str
    seeds: list[int]
    jobs: dict[str, list[str]]  # "variant" / "reference" -> job ids, in seed order
    pvalue: float
    sign: int
    equivalence_pvalue: float
    median_difference: float

    def record(self) -> dict:
        return {
            "seeds": self.seeds,
            "jobs": self.jobs,
            "p_value": self.pvalue,
            "sign": self.sign,
            "p_equivalence": self.equivalence_pvalue,
            "median_difference": self.median_difference,
        }


@dataclass(frozen=True)
class StageData:
    """The stage's tests, the metric they are on and its direction, or why it is incomplete."""

    metric: str
    direction: int
    tests: dict[str, StageTest]
    missing: list[str]


def stage_data(
    results: str | Path,
    suite: str,
    reference: str,
    variants: list[str],
    seeds: list[int],
    chosen_metric: str | None,
    margins: dict[str, float],
    budget: int | None = None,
) -> StageData:
    """Test each of `variants` against `reference` on `seeds` (the stage's, all of them), at
    the training step `budget` (`[suite] budget`; None: the end of training)."""
    jobs, _, _ = load_selection(results, [suite])
    if budget is not None:
        jobs = jobs_at(jobs, budget)
    metric = primary_metric(jobs, chosen_metric)
    sign = direction(metric)
    wanted = set(seeds)
    inside = jobs[jobs["seed"].isin(wanted) & jobs["variant"].isin([reference, *variants])]
    missing = [
        f"{variant} seed {seed}"
        for variant in [reference, *variants]
        for seed in sorted(wanted - set(inside.loc[inside["variant"] == variant, "seed"]))
    ]
    if missing:
        return StageData(metric, sign, {}, missing)
    metrics = [m for m in comparable_metrics() if m in inside]
    by_variant = outcomes(inside, metric, sign, metrics)
    ids = inside.set_index(["variant", "seed"])["job_id"]
    reference_outcomes = by_variant[reference]
    tests = {}
    for variant in variants:
        mine = by_variant[variant]
        paired = sorted(set(mine.seeds.tolist()) & set(reference_outcomes.seeds.tolist()))
        differences = _differences(mine, reference_outcomes, paired)
        pvalue = signed_rank_pvalue(differences)
        statistic_sign, equivalence = stage_test(differences, pvalue, margins.get(metric))
        tests[variant] = StageTest(
            variant,
            paired,
            {
                "variant": [str(ids[variant, seed]) for seed in paired],
                "reference": [str(ids[reference, seed]) for seed in paired],
            },
            pvalue,
            statistic_sign,
            equivalence,
            float(np.median(differences)) if len(differences) else float("nan"),
        )
    return StageData(metric, sign, tests, [])


def _differences(variant, reference, seeds: list[int]) -> np.ndarray:
    """Variant minus reference per seed in `seeds`; both failed (inf - inf) is a tie, 0."""
    mine = pd.Series(variant.values, index=variant.seeds)[seeds].to_numpy(float)
    theirs = pd.Series(reference.values, index=reference.seeds)[seeds].to_numpy(float)
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(mine - theirs, nan=0.0, posinf=np.inf, neginf=-np.inf)
