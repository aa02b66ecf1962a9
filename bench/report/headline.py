"""The headline table: every variant of a suite against its reference, as data, Markdown or CSV."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from bench.errors import ResultsError
from bench.metric_registry import comparable_metrics
from bench.report import summary
from bench.report.markup import markdown_table
from bench.report.stats import (
    HELPS,
    HURTS,
    INTERVAL,
    NO_EVIDENCE,
    better_phrase,
    compare_variants,
    metric_label,
)
from bench.report.summary import difference_text, number
from bench.report.table import load_selection, selection_notes
from bench.run.selection import SuiteJobs
from bench.stats.bootstrap import INTERVALS, Interval, check_interval
from bench.stats.corrections import ALPHA, CORRECTIONS, Correction

VERDICT_RULE = (
    "Seeds are paired (every variant of a seed starts from the same random stream): where both "
    "sides have the same seeds the test is the exact Wilcoxon signed-rank test on the per-seed "
    "differences and the effect is their median, with a bootstrap 95% CI over seeds; otherwise "
    "(unpaired) an exact rank-sum permutation test on the difference in medians. A diverged or "
    f"failed seed counts as worse than any finished one. Verdict: helps / hurts when the "
    f"corrected p-value (Holm-Bonferroni by default, or Benjamini-Hochberg, over the suite's "
    f"comparisons) is below {ALPHA} and the CI excludes 0; otherwise no evidence, stated with "
    "the largest effect the CI leaves ('CI rules out') and the effect the design detects with "
    "80% power from the observed spread ('detectable'). docs/statistics.md has the details."
)


@dataclass(frozen=True)
class Analysis:
    """How one suite is analysed: its `[suite]` settings (suite.json), as `bench report` may
    override them."""

    metric: str | None = None
    correction: Correction = "holm"
    exploratory: str | None = None
    expect: dict[str, dict] = field(default_factory=dict)
    interval: Interval = INTERVAL

    @classmethod
    def of(
        cls,
        meta: dict | None,
        metric: str | None = None,
        correction: str | None = None,
        interval: str | None = None,
    ) -> Analysis:
        meta = meta or {}
        chosen = correction or meta.get("correction") or "holm"
        if chosen not in CORRECTIONS:
            raise ResultsError(f"correction '{chosen}': expected one of {', '.join(CORRECTIONS)}")
        return cls(
            metric or meta.get("primary_metric"),
            chosen,
            meta.get("exploratory"),
            meta.get("expect") or {},
            check_interval(interval or meta.get("interval") or INTERVAL),
        )


def present_metrics(jobs: pd.DataFrame) -> list[str]:
    """The comparable metrics (`comparable_metrics`) that at least one job recorded."""
    return [
        m
        for m in comparable_metrics()
        if m in jobs and pd.to_numeric(jobs[m], errors="coerce").notna().any()
    ]


def primary_metric(jobs: pd.DataFrame, chosen: str | None = None) -> str:
    """`chosen` (the suite's primary_metric or --metric) if recorded; else FID where present,
    else the first comparable metric the jobs recorded."""
    present = present_metrics(jobs)
    if chosen is not None and chosen not in present:
        raise ResultsError(
            f"suites {sorted(jobs['suite'].unique())}: metric '{chosen}' was not recorded; "
            f"metrics in these results: {present}"
        )
    if not present:
        raise ResultsError(
            f"suites {sorted(jobs['suite'].unique())}: no job recorded a comparable metric "
            f"({', '.join(comparable_metrics())}); did every job diverge?"
        )
    return chosen or present[0]


def suite_headline(
    jobs: pd.DataFrame, metric: str | None = None, analysis: Analysis | None = None
) -> pd.DataFrame:
    """One suite's jobs -> one row per variant: counts, medians of every metric, comparison.

    The comparison columns (analysis, difference, CI, P(improvement), p-values, power, verdict)
    are on `metric` (default: the analysis's, else `primary_metric`), recorded in
    `.attrs["metric"]` with the correction, the number of comparisons and the floor. The
    `expected` and `agreement` columns hold the suite's `[expect.VARIANT]` claims against
    the observed verdict on the claim's metric. `.attrs["verdicts"]` has every metric's.
    """
    analysis = analysis or Analysis()
    metric = primary_metric(jobs, metric or analysis.metric)
    reference = jobs["reference_variant"].iloc[0]
    present = present_metrics(jobs)
    verdicts = {
        m: compare_variants(
            jobs, reference, m, correction=analysis.correction, interval=analysis.interval
        )
        for m in present
    }
    table = verdicts[metric]
    finished = jobs[jobs["status"] == "ok"]
    medians = finished.groupby("variant")[present].median().add_prefix("median_")
    attrs = dict(table.attrs)
    table = table.drop(columns="median").join(medians, on="variant")
    ordered = ["variant", "seeds", "scored", "diverged", *medians.columns]
    table = table[ordered + [c for c in table.columns if c not in ordered]]
    claims = [expectation(v, analysis.expect.get(v), verdicts, metric) for v in table["variant"]]
    table["expected"] = [claim for claim, _ in claims]
    table["agreement"] = [agree for _, agree in claims]
    floors = table["floor"].dropna()
    by_metric = verdicts.items()
    table.attrs = attrs | {
        "metric": metric,
        "floor": float(floors.min()) if len(floors) else float("nan"),
        "exploratory": analysis.exploratory,
        "verdicts": {m: dict(zip(t["variant"], t["verdict"], strict=True)) for m, t in by_metric},
        "adjusted": {
            m: dict(zip(t["variant"], t["p_adjusted"], strict=True)) for m, t in by_metric
        },
    }
    return table


def expectation(
    variant: str, claim: dict | None, verdicts: dict[str, pd.DataFrame], metric: str
) -> tuple[str, str]:
    """(`helps (Salimans et al. 2016) on FID`, agree / disagree / undecided) for one variant.

    A claim of helps / hurts agrees with the same verdict, disagrees with the opposite one and
    is undecided by "no evidence"; a claim of no effect agrees with "no evidence" (whose reason
    says what the CI rules out) and disagrees with helps / hurts.
    """
    if not claim:
        return "", ""
    on = claim.get("metric") or metric
    text = f"{claim['direction']} ({claim['source']}) on {metric_label(on)}"
    if on not in verdicts:
        return text, f"not measured ({on} was not recorded)"
    observed = verdicts[on].set_index("variant").loc[variant, "verdict"]
    return text, agreement(claim["direction"], observed)


def agreement(expected: str, observed: str) -> str:
    """Whether an observed verdict agrees with the expected direction (see `expectation`)."""
    if expected == "no effect":
        return "agree" if observed == NO_EVIDENCE else "disagree"
    if observed == expected:
        return "agree"
    return "disagree" if observed in (HELPS, HURTS) else "undecided"


def headline_table(
    jobs: pd.DataFrame,
    metric: str | None = None,
    meta: dict[str, dict] | None = None,
    correction: str | None = None,
    interval: str | None = None,
    short: bool = False,
) -> pd.DataFrame:
    """`suite_headline` of every suite in `jobs`, stacked, led by `suite`, `metric`,
    `correction` and `interval` (the bootstrap CI's method) columns.

    `meta`: each suite's suite.json by name (its primary metric, correction, expectations).
    `short`: the short verdict table's columns first, as the page shows them (the CSV).
    """
    tables = []
    for suite, group in jobs.groupby("suite", sort=True):
        analysis = Analysis.of((meta or {}).get(suite), metric, correction, interval)
        table = suite_headline(group, analysis=analysis)
        shown = summary.short_csv(table) if short else table
        tables.append(
            shown.assign(
                suite=suite,
                metric=table.attrs["metric"],
                correction=analysis.correction,
                interval=analysis.interval,
            )
        )
    stacked = pd.concat(tables, ignore_index=True)
    lead = ["suite", "metric", "correction", "interval"]
    return stacked[[*lead, *(c for c in stacked.columns if c not in lead)]]


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
    shown["analysis"] = [a if isinstance(a, str) else "-" for a in headline["analysis"]]
    shown[f"{metric} difference [95% CI]"] = headline.apply(difference_text, axis=1)
    shown["CI rules out effects over"] = headline["rules_out"].map(number)
    shown["detectable (80% power)"] = headline["detectable"].map(number)
    shown["P(improvement)"] = headline["p_improvement"].map(number)
    shown["adjusted p"] = headline["p_adjusted"].map(number)
    shown["verdict"] = headline["verdict"]
    if headline["expected"].astype(bool).any():
        shown["expected"] = headline["expected"]
        shown["agreement"] = headline["agreement"]
    shown["reason"] = headline["reason"]
    return shown


def design_text(headline: pd.DataFrame) -> str:
    """The analysis of a suite in one paragraph: correction, comparisons, interval, floor,
    exploratory."""
    attrs = headline.attrs
    comparisons, floor = attrs["comparisons"], attrs["floor"]
    text = (
        f"Correction: {CORRECTIONS[attrs['correction']]} over {comparisons} comparisons "
        f"(alpha {attrs['alpha']}). CIs: {INTERVALS[attrs['interval']]}, 95%. Analyses: "
        + ", ".join(sorted(set(headline["analysis"].dropna())) or ["none"])
        + "."
    )
    if comparisons:
        text += f" Smallest achievable adjusted p with these seeds: {floor:.2g}"
        text += " (the design cannot reach a verdict)." if floor >= attrs["alpha"] else "."
    if attrs["exploratory"]:
        text += f" EXPLORATORY suite: {attrs['exploratory']}"
    return text


def metric_verdict_table(headline: pd.DataFrame) -> pd.DataFrame:
    """Every scored metric's verdict (with its adjusted p) per variant, primary metric first."""
    verdicts, adjusted = headline.attrs["verdicts"], headline.attrs["adjusted"]
    primary = headline.attrs["metric"]
    order = [primary, *(m for m in verdicts if m != primary)]
    table = pd.DataFrame({"variant": headline["variant"]})
    for metric in order:
        title = f"{metric_label(metric)} ({better_phrase(metric)})"
        title += ", primary" if metric == primary else ""
        table[title] = [
            verdicts[metric][v]
            + ("" if pd.isna(adjusted[metric][v]) else f" (p {number(adjusted[metric][v])})")
            for v in headline["variant"]
        ]
    return table


def format_markdown(
    jobs: pd.DataFrame,
    metric: str | None = None,
    meta: dict[str, dict] | None = None,
    correction: str | None = None,
    selections: list[SuiteJobs] | None = None,
    interval: str | None = None,
) -> str:
    """Each suite as a Markdown section: heading, warnings and notes on what was not pooled,
    reading guide, headline, per-metric verdicts."""
    by_suite = {selected.suite: selected for selected in selections or []}
    sections, index, methods = [], [], []
    for suite, group in jobs.groupby("suite", sort=True):
        analysis = Analysis.of((meta or {}).get(suite), metric, correction, interval)
        headline = suite_headline(group, analysis=analysis)
        selected = by_suite.get(suite)
        flagged = [
            *(f"> **warning**: {line}" for line in (selected.warnings() if selected else [])),
            *(f"> note: {line}" for line in (selected.notes() if selected else [])),
        ]
        reasons = summary.reasons(headline)
        lines = [
            f"## {suite}",
            "",
            *(f"{line}\n" for line in flagged),
            *markdown_table(summary.short_table(headline)),
            "",
            *(f"- {reason}" for reason in reasons),
            *([""] if reasons else []),
            summary.methods_line(headline, group["reference_variant"].iloc[0])
            + " (Methods: at the end.)",
            "",
            "Full table:",
            "",
            *markdown_table(display_table(headline)),
            "",
            "Every scored metric (adjusted p; each metric corrected on its own):",
            "",
            *markdown_table(metric_verdict_table(headline)),
        ]
        sections.append("\n".join(lines) + "\n")
        index.append(f"- {suite}: {summary.index_line(headline)}")
        methods.append(f"- {suite}: {design_text(headline)}")
    lead = ["\n".join(index) + "\n"] if len(index) > 1 else []
    closing = "\n".join(["## Methods", "", VERDICT_RULE, "", *methods]) + "\n"
    return "\n".join([*lead, *sections, closing])


def headline_text(
    results_dir: str | Path,
    suites: list[str] | None = None,
    fmt: Literal["md", "csv"] = "md",
    metric: str | None = None,
    correction: str | None = None,
    revision: str | None = None,
    notes: list[str] | None = None,
    interval: str | None = None,
) -> str:
    """The headline tables as Markdown or CSV (for `bench report --format md|csv`).

    `notes`, when given, receives a line for each warning and for what was not pooled;
    `interval` is the bootstrap CI's method ("percentile" or "bca"; default `INTERVAL`).
    """
    jobs, selections, skipped = load_selection(results_dir, suites, revision)
    meta = {selected.suite: selected.meta for selected in selections}
    if notes is not None:
        notes += selection_notes(selections, skipped)
    if fmt == "md":
        return format_markdown(jobs, metric, meta, correction, selections, interval)
    if fmt == "csv":
        table = headline_table(jobs, metric, meta, correction, interval, short=True)
        return table.to_csv(index=False)
    raise ResultsError(f"report format '{fmt}': expected 'md' or 'csv' (or html)")
