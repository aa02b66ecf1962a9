"""Statistics over seeds: each variant against its suite's reference variant, on one metric.

Decisions, stated once here, in docs/statistics.md and on every report page:

- Seeds are blocks: the analysis is paired on the seeds both sides have (per-seed
  differences, exact signed-rank test, bootstrap CI of the median difference), unless the
  seed sets were not run as blocks; then it is unpaired (exact rank-sum permutation test,
  bootstrap CI of the difference in medians). See `bench.report.comparison`. The CI is the
  percentile bootstrap (`INTERVAL`), or BCa on request; the report names the one used.
- A diverged or failed seed is an outcome, worse than any finished one (never dropped); the
  failure rates are also compared on their own with Fisher's exact test.
- Verdict (`decide`): "equivalent" when, for a metric with a margin, the two one-sided tests
  (Schuirmann 1987; Lakens 2017) reject after the suite's correction, the CI at level
  1 - 2 alpha lies inside +/- margin, and the failure rates do not differ; else "helps" /
  "hurts" when the corrected p-value (Holm by default, or Benjamini-Hochberg; over the
  suite's tested variants) is below `ALPHA` and the CI excludes 0 on that side; "undecided"
  otherwise, including whenever a side has fewer than 2 outcomes.
- "Undecided" says what it rules out: the largest effect the CI leaves (`rules_out`), the
  effect this design detects with 80% power from the observed spread (`detectable`), and the
  paired seeds that would decide it (`seeds_to_decide`, `bench.stats.power`).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from bench import metric_registry as registry
from bench.errors import ResultsError
from bench.metric_registry import comparable_metrics, metric_names
from bench.provenance import PROVENANCE_KEYS
from bench.report.comparison import (
    EMPTY,
    Outcomes,
    compare_pair,
    divergence_pvalue,
    outcomes,
)
from bench.stats.bootstrap import (
    RESAMPLES,
    Interval,
    bootstrap_ci,
    bootstrap_mean_ci,
    check_interval,
    data_rng,
)
from bench.stats.corrections import ALPHA, Correction, adjust
from bench.stats.power import (
    MAX_SEEDS,
    corrected_floor,
    detectable_effect,
    seeds_needed,
    seeds_to_decide,
)

INTERVAL: Interval = "percentile"  # docs/statistics.md: coverage of percentile and BCa
HELPS, HURTS, EQUIVALENT, UNDECIDED = "helps", "hurts", "equivalent", "undecided"
REFERENCE = "reference"
VERDICTS = (HELPS, HURTS, EQUIVALENT, UNDECIDED)


def direction(name: str) -> int:
    """+1 if higher `name` is better, -1 if lower is better (`bench.metric_registry`)."""
    if name not in comparable_metrics():
        raise ResultsError(
            f"metric '{name}': no known direction; comparable: {comparable_metrics()}"
        )
    return registry.metric(name).direction


def metric_label(name: str) -> str:
    """How people write the metric's name: `FID`, `KID`, `IS`, `modes covered`..."""
    return registry.metric(name).label if name in metric_names() else name.replace("_", " ")


def better_phrase(metric: str) -> str:
    """`lower is better` or `higher is better`, for titles and captions."""
    return "lower is better" if direction(metric) < 0 else "higher is better"


def check_provenance(jobs: pd.DataFrame, what: str) -> None:
    """Refuse to compare numbers measured under different protocols (backbone, samples...)."""
    for key in PROVENANCE_KEYS:
        column = f"provenance.{key}"
        if column not in jobs:
            continue
        values = jobs[column].astype("string").fillna("(not recorded)")
        if values.nunique() > 1:
            where = (
                jobs.assign(_value=values).groupby("_value")["variant"].unique().map(sorted)
            ).to_dict()
            detail = "; ".join(f"{v!s} in {', '.join(vs)}" for v, vs in where.items())
            raise ResultsError(
                f"{what}: metric provenance '{key}' differs between jobs ({detail}); numbers "
                "measured with different protocols are not comparable: rerun the odd jobs "
                "with the same eval settings, or report them as separate suites"
            )


def metric_values(jobs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The finished jobs (status ok, finite metric), with their variant and value."""
    if metric not in jobs:
        present = [m for m in comparable_metrics() if m in jobs]
        raise ResultsError(f"no job has metric '{metric}'; metrics in these results: {present}")
    finite = np.isfinite(pd.to_numeric(jobs[metric], errors="coerce"))
    return jobs.loc[(jobs["status"] == "ok") & finite, ["variant", metric]]


COLUMNS = [
    *("variant", "seeds", "scored", "diverged", "median", "analysis", "difference", "ci_low"),
    *("ci_high", "p_improvement", "p_value", "p_adjusted", "floor", "detectable", "rules_out"),
    *("margin", "eq_ci_low", "eq_ci_high", "equivalence_p", "equivalence_p_adjusted"),
    *("seeds_to_decide", "divergence_p", "divergence_p_adjusted", "verdict", "reason"),
]


def decide(
    p_adjusted: float,
    ci: tuple[float, float],
    sign: int,
    alpha: float = ALPHA,
    margin: float | None = None,
    equivalence_p_adjusted: float = math.nan,
    equivalence_ci: tuple[float, float] = (math.nan, math.nan),
    divergence_p_adjusted: float = math.nan,
) -> str:
    """The verdict of one comparison on one metric: helps, hurts, equivalent or undecided.

    - equivalent: a `margin` is set, the two one-sided tests' corrected p-value is below
      `alpha`, the CI at level 1 - 2 alpha (`equivalence_ci`) lies strictly inside +/- margin,
      and the failure rates do not differ (Fisher's corrected p not below `alpha`). This comes
      first: an effect shown to be smaller than the smallest one that matters is equivalent
      even where it is also significantly different from 0.
    - helps / hurts: the corrected p-value of the difference is below `alpha` and the 95% CI
      (`ci`, variant - reference in metric units) excludes 0 on that side (`sign`: +1 when
      higher is better, -1 when lower is).
    - undecided: anything else (any NaN input fails its condition).
    """
    low, high = equivalence_ci
    if (
        margin is not None
        and equivalence_p_adjusted < alpha
        and -margin < low <= high < margin
        and not divergence_p_adjusted < alpha
    ):
        return EQUIVALENT
    gain_low, gain_high = sorted((sign * ci[0], sign * ci[1]))
    if p_adjusted < alpha and gain_low > 0:
        return HELPS
    if p_adjusted < alpha and gain_high < 0:
        return HURTS
    return UNDECIDED


def compare_variants(
    jobs: pd.DataFrame,
    reference: str,
    metric: str = "fid",
    *,
    alpha: float = ALPHA,
    correction: Correction = "holm",
    interval: Interval = INTERVAL,
    resamples: int = RESAMPLES,
    seed: int = 0,
    margin: float | None = None,
) -> pd.DataFrame:
    """One suite's variants vs `reference` on `metric`: one row per variant, reference first.

    Columns (`COLUMNS`): counts (seeds, scored = finished with the metric, diverged = failed
    outcomes), the median of the finished values, the analysis that ran (paired on the seeds
    both sides have, or unpaired, with its seed counts), the difference with its 95%
    `interval` CI (percentile or BCa bootstrap, seeded from the data), P(improvement), the
    p-value and its `correction`-adjusted value, the corrected floor, the effect detectable
    with 80% power, the largest effect the CI leaves (`rules_out`), the equivalence test
    against +/- `margin` (metric units; None: none, so "equivalent" is unreachable) with its
    1 - 2 alpha CI and adjusted p, the paired seeds that would decide an undecided comparison,
    Fisher's test of the failure rates, the verdict (`decide`) and its reason. `.attrs` holds
    the correction, the interval, alpha, the margin and the number of comparisons.
    """
    check_interval(interval)
    sign = direction(metric)
    finished = metric_values(jobs, metric)
    check_provenance(jobs.loc[finished.index], f"metric '{metric}'")
    variants = sorted(jobs["variant"].unique(), key=lambda v: (v != reference, v))
    if reference not in variants:
        raise ResultsError(f"reference variant '{reference}' has no jobs; variants: {variants}")
    by_variant = outcomes(jobs, metric, sign, [m for m in comparable_metrics() if m in jobs])
    ref = by_variant.get(reference, EMPTY)
    statuses = Counter(zip(jobs["variant"], jobs["status"], strict=True))
    rows, extras = [], []
    for variant in variants:
        mine = by_variant.get(variant, EMPTY)
        scored = mine.finished
        ended = {status: n for (v, status), n in statuses.items() if v == variant}
        row = {
            "variant": variant,
            "seeds": sum(ended.values()),
            "scored": len(scored),
            "diverged": int(mine.failed.sum()),
            "median": float(np.median(scored)) if len(scored) else np.nan,
            "margin": np.nan if margin is None else margin,
        }
        if variant != reference:
            row |= compare_pair(mine, ref, sign, seed, resamples, interval, margin, alpha)
            if "p_value" in row:
                row["divergence_p"] = divergence_pvalue(mine, ref)
                row["analysis"] = _analysis(row, mine, ref)
        extras.append(
            {
                "statuses": {k: n for k, n in ended.items() if k != "ok"},
                "spread": row.pop("spread", np.nan),
                "shape": (row.pop("pairs", 0), len(mine)),
                "missing": (row.pop("only_reference", []), row.pop("only_variant", [])),
            }
        )
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    tested = table["p_value"].notna()
    tests = int(tested.sum())
    for column in ("p", "divergence_p", "equivalence_p"):
        raw = "p_value" if column == "p" else column
        done = tested & table[raw].notna()
        table[f"{column}_adjusted"] = np.nan
        table.loc[done, f"{column}_adjusted"] = adjust(table.loc[done, raw].to_numpy(), correction)
    floors = table["floor"].to_numpy(float, copy=True)
    detectable = table["detectable"].to_numpy(float, copy=True)
    for i in np.flatnonzero(tested):
        pairs, n_variant = extras[i]["shape"]
        n_x, n_y = (pairs, 0) if pairs else (n_variant, len(ref))
        floors[i] = corrected_floor(floors[i], tests, correction)
        detectable[i] = detectable_effect(extras[i]["spread"], n_x, tests, alpha, n_y)
    table["floor"], table["detectable"] = floors, detectable
    table["rules_out"] = np.maximum(table["ci_low"].abs(), table["ci_high"].abs())
    table["verdict"] = [
        REFERENCE
        if row["variant"] == reference
        else decide(
            row["p_adjusted"],
            (row["ci_low"], row["ci_high"]),
            sign,
            alpha,
            margin,
            row["equivalence_p_adjusted"],
            (row["eq_ci_low"], row["eq_ci_high"]),
            row["divergence_p_adjusted"],
        )
        for row in table.to_dict("records")
    ]
    table["seeds_to_decide"] = [
        _seeds_to_decide(row, extra["spread"], margin, tests, alpha)
        if row["verdict"] == UNDECIDED and tested[i]
        else np.nan
        for i, (row, extra) in enumerate(zip(table.to_dict("records"), extras, strict=True))
    ]
    context = {"reference": reference, "ref": ref, "metric": metric, "tests": tests}
    table["reason"] = [
        _reason(row, extra, sign, alpha, margin, **context)
        for row, extra in zip(table.to_dict("records"), extras, strict=True)
    ]
    table.attrs |= {
        "correction": correction,
        "interval": interval,
        "comparisons": tests,
        "alpha": alpha,
        "margin": margin,
    }
    return table


def _seeds_to_decide(
    row: dict, spread: float, margin: float | None, tests: int, alpha: float
) -> float:
    """Paired seeds that would decide an undecided comparison (`bench.stats.power`): with a
    margin, 80% power both to call an effect of the margin and to show no effect equivalent;
    without one, 80% power to detect an effect as large as the observed one. inf: over
    `MAX_SEEDS`; NaN: no spread to judge by."""
    if not np.isfinite(spread):
        return np.nan
    if margin is not None:
        needed = seeds_to_decide(spread, margin, tests, alpha)
    else:
        needed = seeds_needed(spread, abs(row["difference"]), tests, alpha)
    return float(needed) if needed else math.inf


def _analysis(row: dict, variant: Outcomes, reference: Outcomes) -> str:
    """`paired, 8 seeds`, `paired, 6 of 8 seeds` (seeds on one side only are left out) or
    `unpaired, 5 vs 6 seeds`: which test ran, on how many outcomes."""
    if row["analysis"] != "paired":
        return f"unpaired, {len(variant)} vs {len(reference)} seeds"
    pairs = row["pairs"]
    every = len(set(variant.seeds.tolist()) | set(reference.seeds.tolist()))
    return f"paired, {pairs} seeds" if pairs == every else f"paired, {pairs} of {every} seeds"


def _reason(
    row: dict,
    extra: dict,
    sign: int,
    alpha: float,
    margin: float | None,
    reference: str,
    ref: Outcomes,
    metric: str,
    tests: int,
) -> str:
    """The reason for one row's verdict, in words, with the notes on its seeds."""
    statuses = extra["statuses"]
    notes = [
        f"{n}/{row['seeds']} seeds {status} ("
        + ("left out" if status == "pruned" else "ranked worse than any finished seed")
        + ")"
        for status, n in sorted(statuses.items())
    ]
    unscored = row["diverged"] - sum(n for k, n in statuses.items() if k != "pruned")
    if unscored > 0:
        notes.append(
            f"{unscored}/{row['seeds']} seeds finished without a finite metric (ranked worse "
            "than any finished seed)"
        )
    if row["variant"] == reference:
        return "; ".join(notes)
    notes += _missing_notes(*extra["missing"])
    label = metric_label(metric)
    if pd.isna(row["p_value"]):
        counts = f"variant {row['scored'] + row['diverged']}, reference {len(ref)}"
        notes.insert(0, f"fewer than 2 scored seeds on a side ({counts}): no test possible")
        return "; ".join(notes)
    verdict = row["verdict"]
    test = f"adjusted p = {row['p_adjusted']:.2g}"
    gain_low, gain_high = sorted((sign * row["ci_low"], sign * row["ci_high"]))
    if verdict == EQUIVALENT:
        why = equivalence_text(row, label, alpha, decided=True)
        if row["p_adjusted"] < alpha:
            why += f"; the difference is significant ({test}) but smaller than the margin"
    elif verdict == HELPS:
        why = f"{test} < {alpha}; CI excludes 0 (better by at least {_amount(gain_low)} {label})"
    elif verdict == HURTS:
        why = f"{test} < {alpha}; CI excludes 0 (worse by at least {_amount(-gain_high)} {label})"
    else:
        significant = row["p_adjusted"] < alpha
        why = f"{test}, but the CI includes 0" if significant else f"{test} >= {alpha}"
        if row["floor"] >= alpha:
            why += (
                f" (with these seeds and {tests} comparisons the adjusted p cannot go below "
                f"{row['floor']:.2g})"
            )
        why += "; " + (
            equivalence_text(row, label, alpha, decided=False)
            if margin is not None
            else f"no equivalence margin for {label}, so 'equivalent' is unreachable (set "
            "[suite] margin)"
        )
        why += "; " + ruled_out_text(row["rules_out"], label)
        why += "; " + detectable_text(row["detectable"], label)
        why += "; " + decide_text(row["seeds_to_decide"], margin, row["difference"], label)
    if row["divergence_p_adjusted"] < alpha:
        more = "more" if row["diverged"] / max(row["seeds"], 1) > ref.failed.mean() else "less"
        notes.append(
            f"fails {more} often than the reference (Fisher's exact test, adjusted p = "
            f"{row['divergence_p_adjusted']:.2g})"
        )
    return "; ".join([why, *notes])


def _missing_notes(only_reference: list, only_variant: list) -> list[str]:
    """What the pairing left out: seeds with a result on one side only."""
    notes = []
    for seeds, side in ((only_reference, "the variant"), (only_variant, "the reference")):
        if seeds:
            listed = ", ".join(map(str, seeds))
            notes.append(
                f"seed{'s' if len(seeds) > 1 else ''} {listed}: no result for {side} yet (not "
                "finished, or not scored on this metric), left out of the pairing"
            )
    return notes


def equivalence_text(row: dict, label: str, alpha: float, decided: bool) -> str:
    """`equivalent within +/-1 FID: two one-sided tests, adjusted p = 0.01 < 0.05; 90% CI
    [-0.3, 0.4] inside the margin`, or why the test did not show it."""
    margin, level = row["margin"], f"{100 * (1 - 2 * alpha):g}%"
    ci = f"{level} CI [{_amount(row['eq_ci_low'])}, {_amount(row['eq_ci_high'])}]"
    p = row["equivalence_p_adjusted"]
    if decided:
        return (
            f"equivalent within ±{margin:g} {label}: two one-sided tests, adjusted p = {p:.2g} "
            f"< {alpha}; {ci} inside the margin"
        )
    if pd.isna(p):
        return f"no equivalence test within ±{margin:g} {label} (every paired seed failed)"
    if row["divergence_p_adjusted"] < alpha and p < alpha:
        return f"not equivalent within ±{margin:g} {label}: the failure rates differ"
    return (
        f"not shown equivalent within ±{margin:g} {label} (two one-sided tests, adjusted "
        f"p = {p:.2g}; {ci})"
    )


def decide_text(seeds: float, margin: float | None, difference: float, label: str) -> str:
    """How many paired seeds would decide it (see `_seeds_to_decide`)."""
    if math.isnan(seeds):
        return "no spread to estimate the seeds needed from"
    what = (
        f"to call a {margin:g} {label} effect and to show no effect equivalent"
        if margin is not None
        else f"to detect an effect as large as the observed {abs(difference):.3g} {label}"
    )
    if math.isinf(seeds):
        return f"over {MAX_SEEDS} paired seeds would be needed {what} with 80% power"
    return f"about {seeds:.0f} paired seeds would have 80% power {what}"


def _amount(value: float) -> str:
    return "a divergence" if math.isinf(value) else f"{value:.3g}"


def ruled_out_text(rules_out: float, label: str) -> str:
    """`the CI rules out effects larger than 3.1 FID`, or that it rules out nothing."""
    if not np.isfinite(rules_out):
        return "the CI is unbounded (failed seeds), so it rules out no effect size"
    return f"the CI rules out effects larger than {rules_out:.3g} {label}"


def detectable_text(detectable: float, label: str) -> str:
    """`80% power for effects of 4.2 FID or more`, or that no effect can be detected."""
    if math.isnan(detectable):
        return "no spread to judge power by (fewer than 2 finite differences)"
    if math.isinf(detectable):
        return "no effect size is detectable with these seeds after the correction"
    return f"this design detects effects of {detectable:.3g} {label} or more with 80% power"


def factor_columns(jobs: pd.DataFrame) -> list[str]:
    """The `factor.<trick>` columns of a grid suite (the tricks it ablates)."""
    return [c for c in jobs.columns if c.startswith("factor.") and jobs[c].notna().any()]


def main_effects(
    jobs: pd.DataFrame,
    metric: str = "fid",
    *,
    interval: Interval = INTERVAL,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Grid designs: per trick level, mean `metric` with it on minus with the trick off.

    Averaged over every setting of the other tricks (finished jobs only). Paired as the grid
    was run: each seed's effect is the mean of its jobs with the level on minus the mean of
    its jobs with the trick off, and the main effect is the mean of those per-seed effects,
    with a bootstrap 95% CI over seeds (`interval`: percentile or BCa). Fewer than 2 seeds
    with both sides finished fall back to the unpaired difference of means. Columns: trick,
    level, n_on, n_off, analysis, effect, ci_low, ci_high; `.attrs["interval"]` names the
    interval.
    """
    check_interval(interval)
    finished = jobs.loc[metric_values(jobs, metric).index]
    rows = []
    for column in factor_columns(finished):
        trick = column.removeprefix("factor.")
        off = finished[finished[column] == "off"]
        for level in sorted(set(finished[column].dropna()) - {"off"}):
            on = finished[finished[column] == level]
            row = {"trick": trick, "level": level, "n_on": len(on), "n_off": len(off)}
            if len(on) and len(off):
                row |= _main_effect(on, off, metric, seed, resamples, interval)
            rows.append(row)
    columns = ["trick", "level", "n_on", "n_off", "analysis", "effect", "ci_low", "ci_high"]
    effects = pd.DataFrame(rows).reindex(columns=columns)
    effects.attrs["interval"] = interval
    return effects


def _main_effect(
    on: pd.DataFrame,
    off: pd.DataFrame,
    metric: str,
    seed: int,
    resamples: int,
    interval: Interval,
) -> dict[str, Any]:
    """One level's effect and CI: over the per-seed differences where the seeds pair (the
    resampling seeded from `seed` and the data, `data_rng`)."""
    per_seed = pd.concat(
        {side: rows.groupby("seed")[metric].mean() for side, rows in (("on", on), ("off", off))},
        axis=1,
    ).dropna()
    if len(per_seed) >= 2:
        differences = (per_seed["on"] - per_seed["off"]).to_numpy(float)
        rng = data_rng(seed, differences)
        low, high = bootstrap_mean_ci(differences, rng, resamples, interval=interval)
        analysis, effect = f"paired, {len(differences)} seeds", differences.mean()
    else:
        values_on, values_off = on[metric].to_numpy(float), off[metric].to_numpy(float)
        rng = data_rng(seed, values_on, values_off)
        low, high = bootstrap_ci(values_on, values_off, rng, "mean", resamples, interval=interval)
        analysis, effect = "unpaired", values_on.mean() - values_off.mean()
    return {"analysis": analysis, "effect": float(effect), "ci_low": low, "ci_high": high}


def interactions(jobs: pd.DataFrame, metric: str = "fid") -> pd.DataFrame:
    """Grid designs: for tricks a (row) and b (column), how much a's effect changes with b on.

    (mean[a on, b on] - mean[a off, b on]) - (mean[a on, b off] - mean[a off, b off]), with
    any level counting as on; symmetric, NaN on the diagonal and where a cell has no jobs.
    """
    finished = jobs.loc[metric_values(jobs, metric).index]
    columns = factor_columns(finished)
    tricks = [c.removeprefix("factor.") for c in columns]
    on = finished[columns].ne("off").to_numpy()
    values = finished[metric].to_numpy(float)
    matrix = np.full((len(tricks), len(tricks)), np.nan)
    for i, j in itertools.combinations(range(len(tricks)), 2):
        cells = pd.Series(values).groupby([on[:, i], on[:, j]]).mean()
        if len(cells) == 4:
            contrast = (cells[True, True] - cells[False, True]) - (
                cells[True, False] - cells[False, False]
            )
            matrix[i, j] = matrix[j, i] = contrast
    return pd.DataFrame(matrix, index=tricks, columns=tricks)
