"""Statistics over seeds: each variant against its suite's reference variant, on one metric.

Decisions, stated once here, in docs/statistics.md and on every report page:

- Seeds are blocks: where both sides have the same seeds the analysis is paired (per-seed
  differences, exact signed-rank test, bootstrap CI of the median difference); otherwise it is
  unpaired (exact rank-sum permutation test, bootstrap CI of the difference in medians). See
  `bench.report.comparison`. The CI is the percentile bootstrap (`INTERVAL`), or BCa on
  request; the report names the one used.
- A diverged or failed seed is an outcome, worse than any finished one (never dropped); the
  failure rates are also compared on their own with Fisher's exact test.
- Verdict: "helps" / "hurts" when the corrected p-value (Holm by default, or Benjamini-Hochberg;
  over the suite's tested variants) is below `ALPHA` and the CI excludes 0 on that side; "no
  evidence" otherwise, including whenever a side has fewer than 2 outcomes.
- "No evidence" says what it rules out: the largest effect the CI leaves (`rules_out`) and the
  effect this design detects with 80% power from the observed spread (`detectable`).
"""

from __future__ import annotations

import itertools
import math
import zlib
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
    is_paired,
    outcomes,
)
from bench.stats.bootstrap import (
    RESAMPLES,
    Interval,
    bootstrap_ci,
    bootstrap_mean_ci,
    check_interval,
)
from bench.stats.corrections import ALPHA, Correction, adjust
from bench.stats.power import corrected_floor, detectable_effect

INTERVAL: Interval = "percentile"  # docs/statistics.md: coverage of percentile and BCa
HELPS, HURTS, NO_EVIDENCE, REFERENCE = "helps", "hurts", "no evidence", "reference"


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
    *("divergence_p", "divergence_p_adjusted", "verdict", "reason"),
]


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
) -> pd.DataFrame:
    """One suite's variants vs `reference` on `metric`: one row per variant, reference first.

    Columns (`COLUMNS`): counts (seeds, scored = finished with the metric, diverged = failed
    outcomes), the median of the finished values, the analysis that ran (paired or unpaired,
    with its seed counts), the difference with its 95% `interval` CI (percentile or BCa
    bootstrap), P(improvement), the p-value and its
    `correction`-adjusted value, the corrected floor, the effect detectable with 80% power, the
    largest effect the CI leaves (`rules_out`), Fisher's test of the failure rates, the verdict
    and its reason. `.attrs` holds the correction, the interval and the number of comparisons.
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
    rows = []
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
            "statuses": {k: n for k, n in ended.items() if k != "ok"},
        }
        if variant != reference:
            rng = np.random.default_rng([seed, zlib.crc32(variant.encode())])
            row |= compare_pair(mine, ref, sign, rng, resamples, interval)
            if "p_value" in row:
                row["divergence_p"] = divergence_pvalue(mine, ref)
                row["analysis"] = _analysis(mine, ref)
        rows.append(row)
    statuses_of = [row.pop("statuses") for row in rows]
    spread = [row.pop("spread", np.nan) for row in rows]
    shape = [(row.pop("pairs", 0), len(by_variant.get(row["variant"], EMPTY))) for row in rows]
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    tested = table["p_value"].notna()
    tests = int(tested.sum())
    table.loc[tested, "p_adjusted"] = adjust(table.loc[tested, "p_value"].to_numpy(), correction)
    table.loc[tested, "divergence_p_adjusted"] = adjust(
        table.loc[tested, "divergence_p"].to_numpy(), correction
    )
    floors = table["floor"].to_numpy(float, copy=True)
    detectable = table["detectable"].to_numpy(float, copy=True)
    for i in np.flatnonzero(tested):
        pairs, n_variant = shape[i]
        n_x, n_y = (pairs, 0) if pairs else (n_variant, len(ref))
        floors[i] = corrected_floor(floors[i], tests, correction)
        detectable[i] = detectable_effect(spread[i], n_x, tests, alpha, n_y)
    table["floor"], table["detectable"] = floors, detectable
    table["rules_out"] = np.maximum(table["ci_low"].abs(), table["ci_high"].abs())
    context = {"reference": reference, "ref": ref, "metric": metric, "tests": tests}
    verdicts = [
        _verdict(row, ended, sign, alpha, **context)
        for row, ended in zip(table.to_dict("records"), statuses_of, strict=True)
    ]
    table["verdict"] = [verdict for verdict, _ in verdicts]
    table["reason"] = [reason for _, reason in verdicts]
    table.attrs |= {
        "correction": correction,
        "interval": interval,
        "comparisons": tests,
        "alpha": alpha,
    }
    return table


def _analysis(variant: Outcomes, reference: Outcomes) -> str:
    """`paired, 8 seeds` or `unpaired, 5 vs 6 seeds`: which test ran, on how many outcomes."""
    if is_paired(variant, reference):
        return f"paired, {len(variant)} seeds"
    return f"unpaired, {len(variant)} vs {len(reference)} seeds"


def _verdict(
    row: dict,
    statuses: dict[str, int],
    sign: int,
    alpha: float,
    reference: str,
    ref: Outcomes,
    metric: str,
    tests: int,
) -> tuple[str, str]:
    """(verdict, the reason in words) for one row of `compare_variants`.

    `statuses` counts the variant's jobs by status other than ok (diverged, pruned...).
    """
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
        return REFERENCE, "; ".join(notes)
    if pd.isna(row["p_value"]):
        counts = f"variant {row['scored'] + row['diverged']}, reference {len(ref)}"
        notes.insert(0, f"fewer than 2 scored seeds on a side ({counts}): no test possible")
        return NO_EVIDENCE, "; ".join(notes)
    label = metric_label(metric)
    gain_low, gain_high = sorted((sign * row["ci_low"], sign * row["ci_high"]))
    adjusted = row["p_adjusted"]
    test = f"adjusted p = {adjusted:.2g}"
    if adjusted < alpha and gain_low > 0:
        verdict, why = HELPS, f"{test} < {alpha}; CI excludes 0 (better by at least "
        why += f"{_amount(gain_low)} {label})"
    elif adjusted < alpha and gain_high < 0:
        verdict, why = HURTS, f"{test} < {alpha}; CI excludes 0 (worse by at least "
        why += f"{_amount(-gain_high)} {label})"
    elif adjusted < alpha:
        verdict, why = NO_EVIDENCE, f"{test}, but the CI includes 0"
    else:
        verdict, why = NO_EVIDENCE, f"{test} >= {alpha}"
        if row["floor"] >= alpha:
            why += (
                f" (with these seeds and {tests} comparisons the adjusted p cannot go below "
                f"{row['floor']:.2g})"
            )
    if verdict == NO_EVIDENCE:
        why += "; " + ruled_out_text(row["rules_out"], label)
        why += "; " + detectable_text(row["detectable"], label)
    if row["divergence_p_adjusted"] < alpha:
        more = "more" if row["diverged"] / max(row["seeds"], 1) > ref.failed.mean() else "less"
        notes.append(
            f"fails {more} often than the reference (Fisher's exact test, adjusted p = "
            f"{row['divergence_p_adjusted']:.2g})"
        )
    return verdict, "; ".join([why, *notes])


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
                rng = np.random.default_rng([seed, zlib.crc32(level.encode())])
                row |= _main_effect(on, off, metric, rng, resamples, interval)
            rows.append(row)
    columns = ["trick", "level", "n_on", "n_off", "analysis", "effect", "ci_low", "ci_high"]
    effects = pd.DataFrame(rows).reindex(columns=columns)
    effects.attrs["interval"] = interval
    return effects


def _main_effect(
    on: pd.DataFrame,
    off: pd.DataFrame,
    metric: str,
    rng: np.random.Generator,
    resamples: int,
    interval: Interval,
) -> dict[str, Any]:
    """One level's effect and CI: over the per-seed differences where the seeds pair."""
    per_seed = pd.concat(
        {side: rows.groupby("seed")[metric].mean() for side, rows in (("on", on), ("off", off))},
        axis=1,
    ).dropna()
    if len(per_seed) >= 2:
        differences = (per_seed["on"] - per_seed["off"]).to_numpy(float)
        low, high = bootstrap_mean_ci(differences, rng, resamples, interval=interval)
        analysis, effect = f"paired, {len(differences)} seeds", differences.mean()
    else:
        values_on, values_off = on[metric].to_numpy(float), off[metric].to_numpy(float)
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
