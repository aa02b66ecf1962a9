"""The regression checks: each variant of the latest run against its baseline.

Three checks per variant tracked by the baseline:

- ``fid``: the final FID over seeds (status ok). The change is the ratio of medians minus 1,
  with a percentile bootstrap CI (`bench.stats.bootstrap.bootstrap_ci` on log FID, each side
  resampled alone, at the baseline's `confidence`, default 95%). Regressed when the whole CI
  lies above `+fid_increase` (default +10%): the run is worse beyond the tolerance with the
  stated confidence, not merely worse by chance of the seeds.
- ``steps_per_s``: training throughput over seeds, the same way. Regressed when the whole CI
  lies below `-throughput_drop` (default -10%).
- ``failed_seeds``: seeds that did not end ok (diverged, stopped, or no result at all).
  Regressed when the run has more than `new_failures` (default 1) more of them than the
  baseline.

A test needs at least 2 values on each side; with fewer the check reads "no test" and does
not fail (a variant whose seeds all diverged fails `failed_seeds` instead).

False alarms, measured by tests/regress/test_false_alarms.py: 200 synthetic nightly runs of
the shipped layout (suites/nightly.toml: 5 variants x 5 seeds, 15 checks) drawn from the
baseline's own distribution, with seed-to-seed noise of 20% on FID (log-normal) and 3% on
steps/s, flagged 2 runs in 200 (1.0%; 11 in 1,000 with more draws); the test asserts at most
5%. Per single FID check with 5 seeds a side, simulated at 10% to 50% seed noise, the rate
stays below 1%; with 4 seeds a side it reaches ~2% at 50% noise (the median of an even
count is less robust): prefer odd seed counts. The price is power: at 20% seed noise a +50%
FID rise is caught about half the time and a doubling in ~95% of runs; more seeds narrow
the CIs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from bench.metric_registry import metric, regressed_metrics
from bench.regress.baseline import Baseline, RunSnapshot, SeedResult, Tolerances
from bench.stats.bootstrap import RESAMPLES, bootstrap_ci

OK = "ok"
REGRESSED = "REGRESSED"
NO_TEST = "no test"
FIGURES = {
    **{name: metric(name).unit for name in regressed_metrics()},
    "steps_per_s": "steps/s",
    "failed_seeds": "seeds",
}


@dataclass(frozen=True)
class Check:
    """One figure of one variant, run vs baseline, with its evidence."""

    variant: str
    figure: str
    baseline: float | None
    current: float | None
    change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    seeds: tuple[int, int] = (0, 0)
    verdict: str = OK
    rule: str = ""
    evidence: str = ""

    @property
    def regressed(self) -> bool:
        return self.verdict == REGRESSED


@dataclass(frozen=True)
class Comparison:
    """Every check of one run, and the run's variants the baseline does not track."""

    run: RunSnapshot
    baseline: Baseline
    checks: list[Check]
    untracked: list[str]

    @property
    def confidence(self) -> float:
        return self.baseline.tolerances.confidence

    @property
    def regressions(self) -> list[Check]:
        return [check for check in self.checks if check.regressed]


def compare(run: RunSnapshot, baseline: Baseline, seed: int = 0) -> Comparison:
    """Check every variant of `baseline` in `run` (call `check_comparable` first).

    `seed` seeds the bootstrap, so the same inputs always give the same verdicts.
    """
    tolerances = baseline.tolerances
    checks = []
    for variant, tracked in baseline.variants.items():
        now, before = run.variants[variant].seeds, tracked.seeds
        checks += [
            *(ratio_check(variant, m, now, before, tolerances, seed) for m in regressed_metrics()),
            ratio_check(variant, "steps_per_s", now, before, tolerances, seed),
            failures_check(variant, now, before, tolerances),
        ]
    untracked = sorted(set(run.variants) - set(baseline.variants))
    return Comparison(run, baseline, checks, untracked)


def values(seeds: dict[int, SeedResult], figure: str) -> np.ndarray:
    """`figure` of the seeds that ended ok, where recorded, positive and finite."""
    found = [getattr(s, figure) for s in seeds.values() if s.status == OK]
    array = np.array([v for v in found if v is not None], dtype=float)
    return array[np.isfinite(array) & (array > 0)]


def ratio_check(
    variant: str,
    figure: str,
    now: dict[int, SeedResult],
    before: dict[int, SeedResult],
    tolerances: Tolerances,
    seed: int,
) -> Check:
    """Median ratio run/baseline of `figure` with a bootstrap CI, against its tolerance."""
    x, y = values(now, figure), values(before, figure)
    sizes = (len(x), len(y))
    current = float(np.median(x)) if len(x) else None
    reference = float(np.median(y)) if len(y) else None
    label = FIGURES[figure]
    if min(sizes) < 2:
        why = f"fewer than 2 ok seeds with {label} (run {len(x)}, baseline {len(y)})"
        return Check(
            variant,
            figure,
            reference,
            current,
            seeds=sizes,
            verdict=NO_TEST,
            rule="needs 2 ok seeds a side",
            evidence=why,
        )
    rng = np.random.default_rng([seed, zlib.crc32(f"{variant}/{figure}".encode())])
    log_low, log_high = bootstrap_ci(
        np.log(x), np.log(y), rng, resamples=RESAMPLES, level=tolerances.confidence
    )
    change = current / reference - 1
    low, high = float(np.expm1(log_low)), float(np.expm1(log_high))
    if figure in regressed_metrics():  # lower is better: `fid_increase` bounds the rise
        limit, regressed, side = tolerances.fid_increase, low > tolerances.fid_increase, "above"
    else:
        limit, side = -tolerances.throughput_drop, "below"
        regressed = high < limit
    level = f"{tolerances.confidence:.0%}"
    evidence = (
        f"median {label} {reference:.4g} -> {current:.4g} ({change:+.1%}; {level} CI "
        f"{low:+.1%} to {high:+.1%}); regression if the CI lies {side} {limit:+.0%}"
    )
    verdict = REGRESSED if regressed else OK
    rule = f"CI {side} {limit:+.0%}"
    return Check(
        variant, figure, reference, current, change, low, high, sizes, verdict, rule, evidence
    )


def failures_check(
    variant: str, now: dict[int, SeedResult], before: dict[int, SeedResult], tolerances: Tolerances
) -> Check:
    """Seeds not ok (or missing from the run) vs the baseline's, against `new_failures`."""
    statuses = {seed: result.status for seed, result in now.items()}
    statuses |= {seed: "missing" for seed in before if seed not in now}
    failed_now = {seed: status for seed, status in statuses.items() if status != OK}
    failed_before = [seed for seed, result in before.items() if result.status != OK]
    extra = len(failed_now) - len(failed_before)
    listed = ", ".join(f"seed {s} {status}" for s, status in sorted(failed_now.items()))
    evidence = (
        f"{len(failed_now)}/{len(statuses)} seeds not ok ({listed or 'none'}); baseline "
        f"{len(failed_before)}/{len(before)}; regression if more than {tolerances.new_failures} "
        "extra"
    )
    return Check(
        variant,
        "failed_seeds",
        float(len(failed_before)),
        float(len(failed_now)),
        seeds=(len(statuses), len(before)),
        verdict=REGRESSED if extra > tolerances.new_failures else OK,
        rule=f"more than {tolerances.new_failures} extra",
        evidence=evidence,
    )


def format_comparison(comparison: Comparison) -> str:
    """An aligned text table of every check, then the evidence of each regression."""
    header = ("variant", "check", "baseline", "run", "change [CI]", "seeds", "verdict", "rule")
    rows = [header] + [
        (
            c.variant,
            c.figure,
            _number(c.baseline),
            _number(c.current),
            _change(c),
            f"{c.seeds[0]}/{c.seeds[1]}",
            c.verdict,
            c.rule,
        )
        for c in comparison.checks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines = [line.rstrip() for line in lines]
    lines.append(
        f"change: run vs baseline, ratio of medians - 1, with its {comparison.confidence:.0%} "
        "bootstrap CI; seeds: seeds counted, run/baseline"
    )
    lines += [f"{c.variant} {c.figure} {c.verdict}: {c.evidence}" for c in comparison.regressions]
    lines += [
        f"untracked variant '{name}' (not in the baseline; --update-baseline to track it)"
        for name in comparison.untracked
    ]
    run, found = comparison.run, len(comparison.regressions)
    where = f"{len(comparison.checks)} checks of suite '{run.suite}' on {run.provenance.device}"
    lines.append(f"{found} regression(s) in {where}" if found else f"no regression in {where}")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _change(check: Check) -> str:
    if check.change is None:
        return "-"
    return f"{check.change:+.1%} [{check.ci_low:+.1%}, {check.ci_high:+.1%}]"
