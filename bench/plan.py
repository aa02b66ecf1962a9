"""Can a suite reach a verdict, and how many seeds does it need? Answered before anything runs.

`design_floor` is the smallest adjusted p-value a suite's design can produce: the exact paired
test's floor 2/2^n for n seeds, times the correction's factor for its comparisons (see
`bench.stats.power`). `bench run` refuses a suite whose floor is not below alpha unless
`[suite] exploratory = "reason"` says why it should run anyway. `bench plan SUITE --pilot
RESULTS` reads a pilot's paired spread and says how many seeds a given effect needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.config import Suite
from bench.errors import ConfigError, ResultsError
from bench.expand import design_variants, plan_suite, reference_variant
from bench.metric_registry import comparable_metrics
from bench.report.comparison import outcomes
from bench.report.headline import primary_metric
from bench.report.stats import ALPHA, better_phrase, direction, metric_label
from bench.report.table import load_results, load_suites
from bench.stats.corrections import CORRECTIONS
from bench.stats.power import corrected_floor, detectable_effect, lone_floor, seeds_needed
from bench.stats.ranktests import paired_floor


@dataclass(frozen=True)
class DesignFloor:
    """A suite's comparisons, seeds and correction, and the smallest p-values they allow."""

    suite: str
    comparisons: int
    seeds: int
    correction: str
    exploratory: str | None
    alpha: float = ALPHA

    @property
    def floor(self) -> float:
        return paired_floor(self.seeds)

    @property
    def adjusted(self) -> float:
        """The smallest adjusted p (Benjamini-Hochberg: with every comparison at its floor)."""
        return corrected_floor(self.floor, self.comparisons, self.correction)

    @property
    def reachable(self) -> bool:
        return self.comparisons == 0 or self.adjusted < self.alpha

    def describe(self) -> str:
        """Two lines for `bench run --dry-run` and `bench plan`."""
        text = (
            f"statistics: {self.comparisons} comparisons, {self.seeds} paired seeds, "
            f"{CORRECTIONS[self.correction]} correction; exact signed-rank floor "
            f"2/2^{self.seeds} = {self.floor:.3g}; smallest adjusted p = {self.adjusted:.3g}"
        )
        if self.correction == "bh" and self.comparisons > 1:
            text += f" ({lone_floor(self.floor, self.comparisons):.3g} for a lone effect)"
        verdict = "can" if self.reachable else "CANNOT"
        return text + f"\nthis design {verdict} reach a verdict at alpha = {self.alpha}"

    def warning(self) -> str:
        """The loud line printed before an exploratory suite runs."""
        return f"WARNING: suite '{self.suite}' is exploratory ({self.exploratory}): " + (
            "its smallest adjusted p is "
            f"{self.adjusted:.3g} >= {self.alpha}, so every verdict will be 'no evidence'"
            if not self.reachable
            else "its verdicts are to be read as exploratory"
        )


def design_floor(
    suite: Suite, seeds: int | None = None, comparisons: int | None = None
) -> DesignFloor:
    """The floor of `suite` as designed (or with `seeds` seeds / `comparisons` comparisons)."""
    meta = suite.suite
    return DesignFloor(
        meta.name,
        len(design_variants(suite)) - 1 if comparisons is None else comparisons,
        len(meta.seeds) if seeds is None else seeds,
        meta.correction,
        meta.exploratory,
    )


def require_reachable(floor: DesignFloor, where: str, what: str = "suite.seeds") -> None:
    """Refuse a design that cannot reach a verdict, unless it is marked exploratory."""
    if floor.reachable or floor.exploratory:
        return
    needed = next(
        n
        for n in range(2, 64)
        if corrected_floor(paired_floor(n), floor.comparisons, floor.correction) < floor.alpha
    )
    raise ConfigError(
        f"{where}: {what} = {floor.seeds} seeds cannot reach a verdict: the exact paired test's "
        f"smallest p, corrected for {floor.comparisons} comparisons ({floor.correction}), is "
        f"{floor.adjusted:.3g} >= {floor.alpha}; use at least {needed} seeds, or set "
        '[suite] exploratory = "why" to run it anyway'
    )


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
            row[f"seeds for {effect:g} {label}"] = str(needed) if needed else "over 200"
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
        "",
        pd.DataFrame(rows).to_string(index=False),
    ]
    return "\n".join(lines)


def _figure(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "none" if math.isinf(value) else f"{value:.3g}"
