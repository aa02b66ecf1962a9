"""Statistics over seeds: each variant against its suite's reference variant, on one metric.

Decisions, stated once here and on every report page:

- Effect size: the difference in medians over seeds (variant - reference), with a percentile
  bootstrap 95% CI (seeds resampled with replacement within each side, seeded generator).
- P(improvement): the chance that a random variant seed beats a random reference seed (the
  common-language effect size of Mann-Whitney U; ties count half). 0.5 means no difference.
- p-value: a two-sided permutation test on the rank sum (exact when the splits are few enough
  to enumerate, else Monte Carlo). Ranks keep one collapsed seed from dominating the test.
- Verdict: "helps" / "hurts" when the Holm-Bonferroni-adjusted p-value (over the suite's
  tested variants) is below `ALPHA` and the CI excludes 0 on that side; "no evidence" otherwise,
  including whenever either side has fewer than 2 scored seeds (status ok, finite metric).
- Diverged (or otherwise stopped) jobs are excluded from these statistics, even where they were
  scored, and counted instead: frequent divergence shows in its own column and in the reason.
"""

from __future__ import annotations

import functools
import itertools
import math
import zlib

import numpy as np
import pandas as pd

from bench.errors import ResultsError

# +1: higher is better; -1: lower is better.
DIRECTIONS: dict[str, int] = {
    "fid": -1,
    "isc": 1,
    "kid": -1,
    "precision": 1,
    "recall": 1,
    "modes_covered": 1,
    "high_quality_fraction": 1,
    "kl_to_uniform": -1,
    "mode_kl": -1,
    "class_coverage": 1,
    "class_kl_to_real": -1,
}
PROVENANCE_KEYS = (
    "backbone",
    "backbone_version",
    "reference_split",
    "num_generated",
    "num_reference",
    "dataset_version",
    "kid_subset_size",
    "classifier_version",
    "torch_fidelity_version",
)
ALPHA = 0.05
RESAMPLES = 2000
EXACT_SPLITS = 20_000
PERMUTATIONS = 10_000
HELPS, HURTS, NO_EVIDENCE, REFERENCE = "helps", "hurts", "no evidence", "reference"


def direction(metric: str) -> int:
    """+1 if higher `metric` is better, -1 if lower is better."""
    if metric not in DIRECTIONS:
        raise ResultsError(f"metric '{metric}': no known direction; comparable: {list(DIRECTIONS)}")
    return DIRECTIONS[metric]


def metric_label(metric: str) -> str:
    """How people write the metric's name: `FID`, `KID`, `IS`, `modes covered`..."""
    return {"fid": "FID", "kid": "KID", "isc": "IS"}.get(metric, metric.replace("_", " "))


def better_phrase(metric: str) -> str:
    """`lower is better` or `higher is better`, for titles and captions."""
    return "lower is better" if direction(metric) < 0 else "higher is better"


def bootstrap_ci(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    statistic: str = "median",
    resamples: int = RESAMPLES,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of `statistic(x) - statistic(y)`; each side resampled alone."""
    reduce = np.median if statistic == "median" else np.mean
    bx = reduce(x[rng.integers(0, len(x), (resamples, len(x)))], axis=1)
    by = reduce(y[rng.integers(0, len(y), (resamples, len(y)))], axis=1)
    low, high = np.quantile(bx - by, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def prob_improvement(x: np.ndarray, y: np.ndarray, sign: int) -> float:
    """P(a seed of `x` beats a seed of `y`), ties counting half; `sign` as in `DIRECTIONS`."""
    gain = sign * (x[:, None] - y[None, :])
    return float(np.mean((gain > 0) + 0.5 * (gain == 0)))


@functools.cache
def _splits(total: int, n: int) -> tuple[np.ndarray, bool]:
    """Index sets of size `n` out of `total`: all of them, or a fixed random sample; exact?"""
    if math.comb(total, n) <= EXACT_SPLITS:
        return np.array(list(itertools.combinations(range(total), n))), True
    rng = np.random.default_rng([total, n])
    return rng.permuted(np.tile(np.arange(total), (PERMUTATIONS, 1)), axis=1)[:, :n], False


def permutation_pvalue(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided permutation p-value of the rank sum of `x` (midranks for ties).

    Exact over every split when there are at most `EXACT_SPLITS`, else Monte Carlo over
    `PERMUTATIONS` fixed random splits (reused for every comparison of the same sizes).
    """
    pooled = np.concatenate([x, y])
    ranks = pd.Series(pooled).rank().to_numpy()
    centre = len(x) * (len(pooled) + 1) / 2
    observed = abs(ranks[: len(x)].sum() - centre)
    chosen, exact = _splits(len(pooled), len(x))
    extreme = np.count_nonzero(np.abs(ranks[chosen].sum(axis=1) - centre) >= observed - 1e-9)
    return extreme / len(chosen) if exact else (extreme + 1) / (PERMUTATIONS + 1)


def smallest_pvalue(n_x: int, n_y: int) -> float:
    """The smallest two-sided p-value the rank test can reach with these sample sizes."""
    splits = math.comb(n_x + n_y, n_x)
    return 2 / splits if splits <= EXACT_SPLITS else 1 / (PERMUTATIONS + 1)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    pvalues = np.asarray(pvalues, dtype=float)
    m = len(pvalues)
    order = np.argsort(pvalues)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * pvalues[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


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
        present = [m for m in DIRECTIONS if m in jobs]
        raise ResultsError(f"no job has metric '{metric}'; metrics in these results: {present}")
    finite = np.isfinite(pd.to_numeric(jobs[metric], errors="coerce"))
    return jobs.loc[(jobs["status"] == "ok") & finite, ["variant", metric]]


def compare_variants(
    jobs: pd.DataFrame,
    reference: str,
    metric: str = "fid",
    *,
    alpha: float = ALPHA,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """One suite's variants vs `reference` on `metric`: one row per variant, reference first.

    Columns: variant, seeds, scored (status ok with a finite metric), diverged, median,
    difference, ci_low, ci_high, p_improvement, p_value, p_adjusted, verdict, reason.
    """
    sign = direction(metric)
    finished = metric_values(jobs, metric)
    check_provenance(jobs.loc[finished.index], f"metric '{metric}'")
    variants = sorted(jobs["variant"].unique(), key=lambda v: (v != reference, v))
    if reference not in variants:
        raise ResultsError(f"reference variant '{reference}' has no jobs; variants: {variants}")
    values = {v: g[metric].to_numpy(float) for v, g in finished.groupby("variant")}
    empty = np.array([])
    ref = values.get(reference, empty)
    statuses = pd.crosstab(jobs["variant"], jobs["status"])
    rows = []
    for variant in variants:
        x = values.get(variant, empty)
        ended = statuses.loc[variant]
        row = {
            "variant": variant,
            "seeds": int(ended.sum()),
            "scored": len(x),
            "diverged": int(ended.get("diverged", 0)),
            "median": float(np.median(x)) if len(x) else np.nan,
            "excluded": {k: int(n) for k, n in ended.items() if k != "ok" and n},
        }
        if variant != reference and min(len(x), len(ref)) >= 2:
            rng = np.random.default_rng([seed, zlib.crc32(variant.encode())])
            low, high = bootstrap_ci(x, ref, rng, resamples=resamples)
            row |= {
                "difference": float(np.median(x) - np.median(ref)),
                "ci_low": low,
                "ci_high": high,
                "p_improvement": prob_improvement(x, ref, sign),
                "p_value": permutation_pvalue(x, ref),
            }
        rows.append(row)
    excluded = [row.pop("excluded") for row in rows]
    table = pd.DataFrame(rows).reindex(
        columns=[
            *("variant", "seeds", "scored", "diverged", "median", "difference"),
            *("ci_low", "ci_high", "p_improvement", "p_value", "p_adjusted", "verdict", "reason"),
        ]
    )
    tested = table["p_value"].notna()
    table.loc[tested, "p_adjusted"] = holm(table.loc[tested, "p_value"].to_numpy())
    context = {"reference": reference, "n_reference": len(ref), "tests": int(tested.sum())}
    verdicts = [
        _verdict(row, ended, sign, alpha, **context)
        for row, ended in zip(table.to_dict("records"), excluded, strict=True)
    ]
    table["verdict"] = [verdict for verdict, _ in verdicts]
    table["reason"] = [reason for _, reason in verdicts]
    return table


def _verdict(
    row: dict,
    excluded: dict[str, int],
    sign: int,
    alpha: float,
    reference: str,
    n_reference: int,
    tests: int,
) -> tuple[str, str]:
    """(verdict, the reason in words) for one row of `compare_variants`.

    `excluded` counts the variant's jobs by status other than ok (diverged, pruned...).
    """
    notes = [
        f"{n}/{row['seeds']} seeds {status} (excluded from the metric)"
        for status, n in sorted(excluded.items())
    ]
    if row["variant"] == reference:
        return REFERENCE, "; ".join(notes)
    if pd.isna(row["p_value"]):
        counts = f"variant {row['scored']}, reference {n_reference}"
        notes.insert(0, f"fewer than 2 scored seeds on a side ({counts}): no test possible")
        return NO_EVIDENCE, "; ".join(notes)
    gain_low, gain_high = sorted((sign * row["ci_low"], sign * row["ci_high"]))
    adjusted = row["p_adjusted"]
    if adjusted < alpha and gain_low > 0:
        verdict, why = HELPS, f"adjusted p = {adjusted:.2g} < {alpha}; CI excludes 0"
    elif adjusted < alpha and gain_high < 0:
        verdict, why = HURTS, f"adjusted p = {adjusted:.2g} < {alpha}; CI excludes 0"
    elif adjusted < alpha:
        verdict, why = NO_EVIDENCE, f"adjusted p = {adjusted:.2g}, but the CI includes 0"
    else:
        verdict, why = NO_EVIDENCE, f"adjusted p = {adjusted:.2g} >= {alpha}"
        floor = min(1.0, tests * smallest_pvalue(row["scored"], n_reference))
        if floor >= alpha:
            why += f" (with these seed counts and {tests} tests, p cannot go below {floor:.2g})"
    return verdict, "; ".join([why, *notes])


def factor_columns(jobs: pd.DataFrame) -> list[str]:
    """The `factor.<trick>` columns of a grid suite (the tricks it ablates)."""
    return [c for c in jobs.columns if c.startswith("factor.") and jobs[c].notna().any()]


def main_effects(
    jobs: pd.DataFrame, metric: str = "fid", *, resamples: int = RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """Grid designs: per trick level, mean `metric` with it on minus with the trick off.

    Averaged over every setting of the other tricks (finished jobs only), with a percentile
    bootstrap 95% CI. Columns: trick, level, n_on, n_off, effect, ci_low, ci_high.
    """
    finished = jobs.loc[metric_values(jobs, metric).index]
    rows = []
    for column in factor_columns(finished):
        trick = column.removeprefix("factor.")
        off = finished.loc[finished[column] == "off", metric].to_numpy(float)
        for level in sorted(set(finished[column].dropna()) - {"off"}):
            on = finished.loc[finished[column] == level, metric].to_numpy(float)
            row = {"trick": trick, "level": level, "n_on": len(on), "n_off": len(off)}
            if len(on) and len(off):
                rng = np.random.default_rng([seed, zlib.crc32(level.encode())])
                low, high = bootstrap_ci(on, off, rng, "mean", resamples)
                row |= {"effect": on.mean() - off.mean(), "ci_low": low, "ci_high": high}
            rows.append(row)
    columns = ["trick", "level", "n_on", "n_off", "effect", "ci_low", "ci_high"]
    return pd.DataFrame(rows).reindex(columns=columns)


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
