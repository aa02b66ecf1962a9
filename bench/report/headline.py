"""The headline table: every variant of a suite against its reference, as data, Markdown or CSV."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import pandas as pd

from bench.errors import ResultsError
from bench.report.stats import ALPHA, DIRECTIONS, better_phrase, compare_variants, metric_label
from bench.report.table import load_selection, selection_notes
from bench.run.selection import SuiteJobs

VERDICT_RULE = (
    f"Verdict: helps / hurts when the Holm-Bonferroni-adjusted p-value of a two-sided rank "
    f"permutation test (over the suite's variants) is below {ALPHA} and the bootstrap 95% CI of "
    "the difference in medians excludes 0; otherwise no evidence (always so with fewer than 2 "
    "scored seeds a side). 'scored' counts the seeds that finished with the metric; diverged "
    "seeds are excluded from the statistics (even where scored) and counted under 'diverged'."
)


def present_metrics(jobs: pd.DataFrame) -> list[str]:
    """The comparable metrics (see `DIRECTIONS`) that at least one job recorded."""
    return [
        m for m in DIRECTIONS if m in jobs and pd.to_numeric(jobs[m], errors="coerce").notna().any()
    ]


def primary_metric(jobs: pd.DataFrame) -> str:
    """FID where present, else the first comparable metric the jobs recorded."""
    present = present_metrics(jobs)
    if not present:
        raise ResultsError(
            f"suites {sorted(jobs['suite'].unique())}: no job recorded a comparable metric "
            f"({', '.join(DIRECTIONS)}); did every job diverge?"
        )
    return present[0]


def suite_headline(jobs: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """One suite's jobs -> one row per variant: counts, medians of every metric, comparison.

    The comparison columns (difference, CI, P(improvement), p-values, verdict) are on `metric`
    (default: `primary_metric`), recorded in `.attrs["metric"]`.
    """
    metric = metric or primary_metric(jobs)
    table = compare_variants(jobs, jobs["reference_variant"].iloc[0], metric)
    finished = jobs[jobs["status"] == "ok"]
    present = present_metrics(jobs)
    medians = finished.groupby("variant")[present].median().add_prefix("median_")
    table = table.drop(columns="median").join(medians, on="variant")
    ordered = ["variant", "seeds", "scored", "diverged", *medians.columns]
    table = table[ordered + [c for c in table.columns if c not in ordered]]
    table.attrs["metric"] = metric
    return table


def headline_table(jobs: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """`suite_headline` of every suite in `jobs`, stacked, led by `suite` and `metric` columns."""
    tables = []
    for suite, group in jobs.groupby("suite", sort=True):
        table = suite_headline(group, metric)
        tables.append(table.assign(suite=suite, metric=table.attrs["metric"]))
    stacked = pd.concat(tables, ignore_index=True)
    return stacked[
        ["suite", "metric", *(c for c in stacked.columns if c not in {"suite", "metric"})]
    ]


def number(value: float) -> str:
    """A metric value for people: 4 significant digits, no exponent below 1e4, '-' if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def difference_text(row: pd.Series) -> str:
    """`-10.2 [-11.4, -8.9]`: the difference in medians and its 95% CI."""
    if pd.isna(row["difference"]):
        return "-"
    return f"{number(row['difference'])} [{number(row['ci_low'])}, {number(row['ci_high'])}]"


def display_table(headline: pd.DataFrame) -> pd.DataFrame:
    """The headline as strings, with the column names shown on the page and in Markdown."""
    metric = headline.attrs["metric"]
    shown = pd.DataFrame(
        {
            "variant": headline["variant"],
            "seeds": headline["seeds"].astype(str),
            "scored": headline["scored"].astype(str),
            "diverged": headline["diverged"].astype(str),
        }
    )
    for column in [c for c in headline.columns if c.startswith("median_")]:
        shown[f"median {column.removeprefix('median_')}"] = headline[column].map(number)
    shown[f"{metric} difference [95% CI]"] = headline.apply(difference_text, axis=1)
    shown["P(improvement)"] = headline["p_improvement"].map(number)
    shown["adjusted p"] = headline["p_adjusted"].map(number)
    shown["verdict"] = headline["verdict"]
    shown["reason"] = headline["reason"]
    return shown


def format_markdown(
    jobs: pd.DataFrame, metric: str | None = None, selections: list[SuiteJobs] | None = None
) -> str:
    """The headline of each suite as a Markdown section (heading, warnings and notes on what
    was not pooled, reading guide, table)."""
    by_suite = {selected.suite: selected for selected in selections or []}
    sections = []
    for suite, group in jobs.groupby("suite", sort=True):
        headline = suite_headline(group, metric)
        used = headline.attrs["metric"]
        shown = display_table(headline).replace({"\\|": "\\\\|"}, regex=True)
        selected = by_suite.get(suite)
        flagged = [
            *(f"> **warning**: {line}" for line in (selected.warnings() if selected else [])),
            *(f"> note: {line}" for line in (selected.notes() if selected else [])),
        ]
        lines = [
            f"## {suite}",
            "",
            *(f"{line}\n" for line in flagged),
            f"{metric_label(used)}: {better_phrase(used)}. Reference variant: "
            f"`{group['reference_variant'].iloc[0]}`. {VERDICT_RULE}",
            "",
            "| " + " | ".join(shown.columns) + " |",
            "|" + "---|" * len(shown.columns),
            *("| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)),
        ]
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def headline_text(
    results_dir: str | Path,
    suites: list[str] | None = None,
    fmt: Literal["md", "csv"] = "md",
    metric: str | None = None,
    revision: str | None = None,
    notes: list[str] | None = None,
) -> str:
    """The headline tables as Markdown or CSV (for `bench report --format md|csv`).

    `notes`, when given, receives a line for each warning and for what was not pooled.
    """
    jobs, selections, skipped = load_selection(results_dir, suites, revision)
    if notes is not None:
        notes += selection_notes(selections, skipped)
    if fmt == "md":
        return format_markdown(jobs, metric, selections)
    if fmt == "csv":
        return headline_table(jobs, metric).to_csv(index=False)
    raise ResultsError(f"report format '{fmt}': expected 'md' or 'csv' (or html)")
