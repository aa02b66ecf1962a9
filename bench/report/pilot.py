"""`bench plan SUITE --pilot RESULTS`: how many seeds a suite needs, from a pilot's spread.

Per comparison: the pilot's paired spread, the effect the suite's seeds detect with 80% power
under the exact signed-rank test, (with `--effect`) the seeds needed to detect that effect,
and, where the metric has an equivalence margin, the seeds that decide the comparison either
way (`bench.stats.power.seeds_to_decide`, the number an undecided verdict reports).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.design import design_floor
from bench.errors import ResultsError
from bench.expand import plan_suite, reference_variant
from bench.metric_registry import comparable_metrics, margins
from bench.report.comparison import outcomes
from bench.report.headline import primary_metric
from bench.report.table import load_results, load_suites
from bench.report.verdicts import better_phrase, direction, metric_label
from bench.stats.power import MAX_SEEDS, detectable_effect, seeds_needed, seeds_to_decide


def pilot_plan(
    path: str | Path,
    pilot: str | Path,
    effect: float | None = None,
    metric: str | None = None,
    pilot_suite: str | None = None,
    overrides: list[str] | None = None,
) -> str:
    """`bench plan`: per comparison, the pilot's paired spread, the effect detectable with the
    suite's seeds, and (with `effect`) the seeds needed to detect it with 80% power."""
    suite, _ = plan_suite(path, overrides)
    floor = design_floor(suite)
    name = pilot_suite or suite.suite.name
    try:
        jobs = load_results(pilot, [name])
    except ResultsError as err:
        raise ResultsError(f"--pilot {pilot}: {err} (choose one with --pilot-suite)") from None
    reference = load_suites(pilot, [name])[name].get("reference_variant", reference_variant(suite))
    metric = primary_metric(jobs, metric or suite.suite.primary_metric)
    label = metric_label(metric)
    margin = margins(suite.suite.margin).get(metric)
    present = [m for m in comparable_metrics() if m in jobs]
    finished = pd.DataFrame(
        {
            variant: pd.Series(seeds.values[~seeds.failed], index=seeds.seeds[~seeds.failed])
            for variant, seeds in outcomes(jobs, metric, direction(metric), present).items()
        }
    )
    if reference not in finished:
        raise ResultsError(f"--pilot {pilot}: suite '{name}' has no finished '{reference}' seed")
    rows = []
    for variant in [v for v in finished.columns if v != reference]:
        differences = (finished[variant] - finished[reference]).dropna()
        spread = float(np.std(differences, ddof=1)) if len(differences) >= 2 else math.nan
        row = {
            "variant": variant,
            "pilot pairs": str(len(differences)),
            f"SD of paired differences ({label})": _figure(spread),
            f"detectable with {floor.seeds} seeds": _figure(
                detectable_effect(spread, floor.seeds, floor.comparisons, floor.alpha)
            ),
        }
        if effect is not None:
            needed = seeds_needed(spread, effect, floor.comparisons, floor.alpha)
            row[f"seeds for {effect:g} {label}"] = _seeds(needed)
        if margin is not None and math.isfinite(spread):
            needed = seeds_to_decide(spread, margin, floor.comparisons, floor.alpha)
            row[f"seeds to decide (margin {margin:g})"] = _seeds(needed)
        rows.append(row)
    if not rows:
        raise ResultsError(f"--pilot {pilot}: suite '{name}' has no variant besides '{reference}'")
    lines = [
        f"suite {suite.suite.name}: {floor.comparisons} comparisons against '{reference}' on "
        f"{label} ({better_phrase(metric)})",
        floor.describe(),
        f"pilot: {pilot} (suite {name}); power from the SD of each variant's per-seed "
        f"differences, 80% power for a lone effect at alpha / {max(floor.comparisons, 1)} "
        "under the exact signed-rank test (simulated with normal differences)",
        (
            f"equivalence margin: ±{margin:g} {label}; seeds to decide: 80% power both to call "
            f"a {margin:g} {label} effect helps/hurts and to show no effect equivalent"
            if margin is not None
            else f"no equivalence margin for {label}: set [suite] margin to plan for one"
        ),
        "",
        pd.DataFrame(rows).to_string(index=False),
    ]
    return "\n".join(lines)


def _seeds(needed: int | None) -> str:
    return str(needed) if needed else f"over {MAX_SEEDS}"


def _figure(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "none" if math.isinf(value) else f"{value:.3g}"
