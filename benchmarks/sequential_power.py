"""Power and expected seeds of sequential seeds against the fixed design, by simulation.

    python benchmarks/sequential_power.py [--suites 4000] [--spending obf|pocock]

Runs the stopping rule `bench run` uses (`bench.stats.sequential.simulate`) on simulated
paired differences, normal with SD 1 (an effect of 1 is 1 SD of the per-seed differences),
for stages of 8, 12, ..., 32 seeds, and the fixed design (all 32 seeds, exact signed-rank
test, Holm) on the same draws. Comparisons share the reference's seeds, as in a suite. Prints
the Markdown table of docs/statistics.md ("Sequential seeds").
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.stats.corrections import ALPHA
from bench.stats.sequential import LARGER, SMALLER, holm_adjusted, simulate, untied_tests

COUNTS = tuple(range(8, 33, 4))
EFFECTS = (0.5, 1.0, 2.0)


def differences(rng: np.random.Generator, suites: int, effects: list[float]) -> np.ndarray:
    """(suites, comparisons, max seeds): variant minus a shared reference, SD 1 each."""
    seeds = COUNTS[-1]
    reference = rng.standard_normal((suites, 1, seeds)) / np.sqrt(2)
    variants = rng.standard_normal((suites, len(effects), seeds)) / np.sqrt(2)
    return variants - reference + np.array(effects)[None, :, None]


def row(d: np.ndarray, margin: float | None, spending: str) -> dict[str, float]:
    """Power of comparison 0 (fixed and sequential), its mean seeds, and the mean jobs."""
    pvalue, _, _ = untied_tests(d)
    fixed = (holm_adjusted(pvalue) < ALPHA)[:, 0].mean()
    state = simulate(d, COUNTS, margin, spending)
    seeds_at = np.where(state.stage >= 0, np.array(COUNTS)[state.stage], COUNTS[-1])
    decided = np.isin(state.outcome, (LARGER, SMALLER))[:, 0].mean()
    jobs = seeds_at.sum(axis=1) + seeds_at.max(axis=1)  # the variants, and the reference
    fixed_jobs = (d.shape[1] + 1) * COUNTS[-1]
    return {
        "fixed": fixed,
        "sequential": decided,
        "seeds": seeds_at[:, 0].mean(),
        "jobs": jobs.mean() / fixed_jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=4000, help="simulated suites per row")
    parser.add_argument("--spending", choices=["obf", "pocock"], default="obf")
    args = parser.parse_args()
    rng = np.random.default_rng(20_261_203)
    print(
        "| effect (SD) | comparisons | power, fixed 32 seeds | power, sequential | "
        "seeds to decide (mean) | jobs vs fixed |"
    )
    print("|---|---|---|---|---|---|")
    for effect in EFFECTS:
        for label, effects, margin in (
            ("1", [effect], None),
            ("3 (2 placebos)", [effect, 0.0, 0.0], None),
            ("3 (2 placebos), margin 1 SD", [effect, 0.0, 0.0], 1.0),
        ):
            found = row(differences(rng, args.suites, effects), margin, args.spending)
            print(
                f"| {effect} | {label} | {found['fixed']:.2f} | {found['sequential']:.2f} | "
                f"{found['seeds']:.1f} | {found['jobs']:.0%} |"
            )


if __name__ == "__main__":
    main()
