"""Can a suite reach a verdict? Answered from its design alone, before anything runs.

`design_floor` is the smallest adjusted p-value a suite's design can produce: the exact paired
test's floor 2/2^n for n seeds, times the correction's factor for its comparisons (see
`bench.stats.power`). `bench run` refuses a suite whose floor is not below alpha unless
`[suite] exploratory = "reason"` says why it should run anyway. How many seeds an effect needs,
from a pilot's results, is `bench.report.pilot`. A sequential suite's stages, the level each
may spend and its worst-case job count are `stage_plan` (`bench.stats.sequential`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.config import SeedStages, Suite, load_suite
from bench.errors import ConfigError
from bench.expand import variant_count
from bench.stats.corrections import ALPHA, CORRECTIONS
from bench.stats.power import corrected_floor, lone_floor
from bench.stats.ranktests import paired_floor
from bench.stats.sequential import (
    SPENDINGS,
    Spending,
    first_reachable_stage,
    spending_weights,
    stage_levels,
)


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
            f"{self.adjusted:.3g} >= {self.alpha}, so no variant can read 'helps' or 'hurts' "
            "(only 'equivalent' or 'undecided')"
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
        variant_count(suite) - 1 if comparisons is None else comparisons,
        len(meta.seed_list) if seeds is None else seeds,
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


@dataclass(frozen=True)
class StagePlan:
    """A sequential suite's stages (`[suite] seeds = { start, step, max }`): the seeds of
    each, the level a lone effect must reach at each, and the jobs they cost."""

    suite: str
    variants: int
    seeds: tuple[int, ...]
    counts: tuple[int, ...]
    spending: Spending
    correction: str
    exploratory: str | None
    alpha: float = ALPHA

    @property
    def comparisons(self) -> int:
        return self.variants - 1

    @property
    def first_decidable(self) -> int | None:
        """The first stage (0-based) at which a lone effect can be decided, or None."""
        return first_reachable_stage(self.counts, self.comparisons, self.spending, self.alpha)

    @property
    def worst_case_jobs(self) -> int:
        """Jobs when no comparison is decided before the last stage: every variant at max."""
        return self.variants * self.counts[-1]

    def describe(self) -> str:
        """The stage table and the worst-case job count, for `bench run --dry-run`."""
        levels = stage_levels(self.counts, self.comparisons, self.spending, self.alpha)
        spent_so_far = np.cumsum(spending_weights(self.counts, self.spending, self.alpha))
        lines = [
            f"sequential seeds: {len(self.counts)} stages, {SPENDINGS[self.spending]} alpha "
            f"spending, {self.comparisons} comparisons (Holm over them), alpha = {self.alpha}",
            "stage  seeds  new seeds   alpha spent  level (lone effect)  floor 2/2^n  jobs if "
            "none is decided",
        ]
        for stage, n in enumerate(self.counts):
            first = 0 if stage == 0 else self.counts[stage - 1]
            values = self.seeds[first:n]
            contiguous = list(values) == list(range(values[0], values[-1] + 1))
            shown = f"{values[0]}..{values[-1]}" if contiguous else ",".join(map(str, values))
            shown = shown if len(values) > 1 else f"{values[0]}"
            floor = paired_floor(n)
            lines.append(
                f"{stage + 1:>5}  {n:>5}  {shown:<10}  {self.alpha * spent_so_far[stage]:>11.3g}  "
                f"{levels[stage]:>19.3g}  {floor:>11.3g}  {self.variants * n:>22}"
                + ("" if floor < levels[stage] else "  (cannot decide)")
            )
        stage = self.first_decidable
        lines.append(
            f"worst case: {self.worst_case_jobs} jobs ({self.variants} variants x "
            f"{self.counts[-1]} seeds); "
            + (
                f"the first stage that can decide a lone effect is stage {stage + 1}"
                if stage is not None
                else "CANNOT decide anything at any stage"
            )
        )
        return "\n".join(lines)


def stage_plan(suite: Suite, where: str = "suite") -> StagePlan | None:
    """The stages of a sequential suite (None for a list of seeds); refuses Benjamini-
    Hochberg, whose error control under the stopping rule is not established (Holm's is)."""
    meta = suite.suite
    if meta.stages is None:
        return None
    if meta.correction != "holm":
        raise ConfigError(
            f"{where}: suite.correction = '{meta.correction}' with sequential seeds: the "
            "stopping rule controls the family-wise error with Holm's correction only "
            "(docs/statistics.md); use correction = 'holm' or a list of seeds"
        )
    return StagePlan(
        meta.name,
        variant_count(suite),
        meta.seed_list,
        meta.stages.counts,
        meta.spending,
        meta.correction,
        meta.exploratory,
    )


def require_decidable(plan: StagePlan, where: str) -> None:
    """Refuse a sequential design whose stages can never decide, unless exploratory."""
    if plan.comparisons == 0 or plan.first_decidable is not None or plan.exploratory:
        return
    raise ConfigError(
        f"{where}: suite.seeds: no stage of {list(plan.counts)} seeds can reach a verdict: at "
        f"each, the exact paired test's floor 2/2^n is above the level the stage may spend "
        f"after {plan.comparisons} comparisons; raise seeds.max or seeds.start, or set "
        '[suite] exploratory = "why" to run it anyway'
    )


def until_decided_overrides(
    path: str | Path, overrides: list[str], max_seeds: int, step: int | None = None
) -> list[str]:
    """`overrides` plus the one that makes a list-of-seeds suite sequential (`bench run
    --until-decided --max-seeds N [--seed-step S]`): its seeds are the first stage, each next
    stage adds `step` (default: half the listed seeds), up to `max_seeds`."""
    seeds = load_suite(path, overrides).suite.seeds
    if isinstance(seeds, SeedStages):
        raise ConfigError(
            f"{path}: --until-decided: suite.seeds is already a table of stages; give "
            "--max-seeds only to a suite with a list of seeds (or edit seeds.max)"
        )
    if max_seeds < len(seeds):
        raise ConfigError(
            f"--max-seeds {max_seeds}: expected at least the {len(seeds)} listed seeds"
        )
    step = max(1, len(seeds) // 2) if step is None else step
    if step < 1:
        raise ConfigError(f"--seed-step {step}: expected at least 1")
    first = ", ".join(map(str, seeds))
    stages = f"{{ start = {len(seeds)}, step = {step}, max = {max_seeds}, first = [{first}] }}"
    return [*overrides, f"suite.seeds={stages}"]
