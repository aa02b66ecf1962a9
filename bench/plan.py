"""Can a suite reach a verdict? Answered from its design alone, before anything runs.

`design_floor` is the smallest adjusted p-value a suite's design can produce: the exact paired
test's floor 2/2^n for n seeds, times the correction's factor for its comparisons (see
`bench.stats.power`). `bench run` refuses a suite whose floor is not below alpha unless
`[suite] exploratory = "reason"` says why it should run anyway. How many seeds an effect needs,
from a pilot's results, is `bench.report.pilot`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.config import Suite
from bench.errors import ConfigError
from bench.expand import design_variants
from bench.stats.corrections import ALPHA, CORRECTIONS
from bench.stats.power import corrected_floor, lone_floor
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
