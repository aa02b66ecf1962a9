"""The headline table: every variant of a suite against its reference, as data, Markdown or CSV."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from bench.errors import ResultsError
from bench.metric_registry import comparable_metrics, default_margins
from bench.report import summary
from bench.report.budget import (
    DESCRIPTIVE,
    budget_display,
    budget_text,
    check_budget,
    checkpoint_steps,
    checkpoint_table,
    jobs_at,
    with_budget,
)
from bench.report.machines import machine_split
from bench.report.markup import markdown_table
from bench.report.reliability import headline_warnings, marked, unreliable_metrics
from bench.report.sequential import (
    STAGES_KEY,
    stage_seeds,
    stage_summary,
    stage_table,
    suite_metas,
    with_stage_verdicts,
)
from bench.report.summary import difference_text, number
from bench.report.table import load_selection, selection_notes
from bench.report.verdicts import (
    EQUIVALENT,
    INTERVAL,
    UNDECIDED,
    better_phrase,
    compare_variants,
    metric_label,
)
from bench.run.store.selection import SuiteJobs
from bench.stats.bootstrap import INTERVALS, Interval, check_interval
from bench.stats.corrections import ALPHA, CORRECTIONS, Correction
from bench.stats.power import MAX_SEEDS

VERDICT_RULE = (
    "Seeds are paired (every variant of a seed starts from the same random stream): the test is "
    "the exact Wilcoxon signed-rank test on the per-seed differences of the seeds both sides "
    "have, and the effect is their median, with a bootstrap 95% CI over seeds; where the seed "
    "sets were not run as blocks (unpaired), an exact rank-sum permutation test on the "
    "difference in medians. A diverged or failed seed counts as worse than any finished one. "
    f"Verdict: equivalent when the metric has a margin, two one-sided tests against it reject "
    f"after the correction and the {100 * (1 - 2 * ALPHA):g}% CI lies inside it; else helps / "
    f"hurts when the corrected p-value (Holm-Bonferroni by default, or Benjamini-Hochberg, over "
    f"the suite's comparisons) is below {ALPHA} and the CI excludes 0; otherwise undecided, "
    "stated with the largest effect the CI leaves ('CI rules out'), the effect the design "
    "detects with 80% power from the observed spread ('detectable') and the paired seeds that "
    "would decide it ('seeds to decide'). docs/statistics.md has the details."
)


@dataclass(frozen=True)
class Analysis:
    """How one suite is analysed: its `[suite]` settings (suite.json), as `bench report` may
    override them. `margin`: per metric, the equivalence margin used (the suite's, else the
    registry default recorded when it ran); `margin_source` says which; `seeds`: the seeds
    the suite defines (to say what has no result yet)."""

    metric: str | None = None
    correction: Correction = "holm"
    exploratory: str | None = None
    expect: dict[str, dict] = field(default_factory=dict)
    interval: Interval = INTERVAL
    margin: dict[str, float] = field(default_factory=default_margins)
    margin_source: dict[str, str] = field(default_factory=dict)
    seeds: tuple[int, ...] | None = None
    stages: dict | None = None  # a sequential suite's stage record (bench.report.sequential)
    budget: int | None = None  # `[suite] budget`: the step of the headline (None: the end)

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
        declared = _margins(meta, "margin", {})
        defaults = _margins(meta, "default_margin", default_margins())
        seeds = meta.get("seeds")
        return cls(
            metric or meta.get("primary_metric"),
            chosen,
            meta.get("exploratory"),
            meta.get("expect") or {},
            check_interval(interval or meta.get("interval") or INTERVAL),
            {**defaults, **declared},
            {name: "suite" if name in declared else "default" for name in {**defaults, **declared}},
            tuple(seeds) if isinstance(seeds, list) else None,
            meta.get(STAGES_KEY),
            _budget(meta),
        )


def _budget(meta: dict) -> int | None:
    """`meta["budget"]` (suite.json, untrusted): a positive whole step, or None."""
    budget = meta.get("budget")
    if budget is None:
        return None
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ResultsError(
            f"suite.json of suite '{meta.get('name', '?')}': budget = {budget!r}: expected a "
            "positive training step (a checkpoint) or none"
        )
    return budget


def _margins(meta: dict, key: str, missing: dict[str, float]) -> dict[str, float]:
    """`meta[key]` (suite.json, untrusted) as per-metric margins; `missing` if not recorded."""
    if meta.get(key) is None:
        return missing
    table = meta[key]
    where = f"suite.json of suite '{meta.get('name', '?')}'"
    if not isinstance(table, dict):
        raise ResultsError(f"{where}: {key} = {table!r}: expected a table of per-metric margins")
    for name, value in table.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if name not in comparable_metrics() or not number or not 0 < value < math.inf:
            raise ResultsError(
                f"{where}: {key}.{name} = {value!r}: expected a positive, finite margin for one "
                f"of {', '.join(comparable_metrics())}"
            )
    return {name: float(value) for name, value in table.items()}


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
    the observed verdict on the claim's metric; `machine_split` names the seeds whose
    reference and variant ran on different machine classes (`bench.report.machines`).
    `.attrs["verdicts"]` has every metric's.
    """
    analysis = analysis or Analysis()
    metric = primary_metric(jobs, metric or analysis.metric)
    reference = jobs["reference_variant"].iloc[0]
    steps, scored = checkpoint_steps(jobs), jobs
    end = steps[-1] if steps else None
    if analysis.budget is not None:
        check_budget(jobs, analysis.budget, str(jobs["suite"].iloc[0]))
        scored = jobs if analysis.budget == end else jobs_at(jobs, analysis.budget)
    present = present_metrics(scored)
    verdicts = {
        m: compare_variants(
            scored,
            reference,
            m,
            correction=analysis.correction,
            interval=analysis.interval,
            margin=analysis.margin.get(m),
        )
        for m in present
    }
    if analysis.stages:  # a sequential suite: its verdicts are the stage decisions
        verdicts[metric] = with_stage_verdicts(verdicts[metric], analysis.stages, metric)
    table = verdicts[metric]
    finished = scored[scored["status"] == "ok"]
    medians = finished.groupby("variant")[present].median().add_prefix("median_")
    attrs = dict(table.attrs)
    table = table.drop(columns="median").join(medians, on="variant")
    ordered = ["variant", "seeds", "scored", "diverged", *medians.columns]
    table = table[ordered + [c for c in table.columns if c not in ordered]]
    table["machine_split"] = machine_split(jobs, reference, table["variant"])
    claims = [expectation(v, analysis.expect.get(v), verdicts, metric) for v in table["variant"]]
    table["expected"] = [claim for claim, _ in claims]
    table["agreement"] = [agree for _, agree in claims]
    floors = table["floor"].dropna()
    by_metric = verdicts.items()
    expected = expected_seeds(jobs, analysis)
    table.attrs = attrs | {
        "metric": metric,
        "floor": float(floors.min()) if len(floors) else float("nan"),
        "exploratory": analysis.exploratory,
        "unreliable": unreliable_metrics(jobs),
        "margin_source": analysis.margin_source.get(metric),
        "missing": missing_jobs(jobs, expected),
        "expected_jobs": sum(len(seeds) for seeds in expected.values()),
        "verdicts": {m: dict(zip(t["variant"], t["verdict"], strict=True)) for m, t in by_metric},
        "adjusted": {
            m: dict(zip(t["variant"], t["p_adjusted"], strict=True)) for m, t in by_metric
        },
        "equivalence_adjusted": {
            m: dict(zip(t["variant"], t["equivalence_p_adjusted"], strict=True))
            for m, t in by_metric
        },
    }
    if len(steps) < 2:  # results from before checkpoints: no budget analysis
        return table
    margin = analysis.margin.get(metric)
    checkpoints = checkpoint_table(jobs, metric, analysis.correction, analysis.interval, margin)
    return with_budget(table, checkpoints, analysis.budget or end, end)


def expected_seeds(jobs: pd.DataFrame, analysis: Analysis) -> dict[str, set[int]]:
    """Per variant, the seeds it should have a result for: those the recorded stages ran it
    on for a sequential suite (a comparison decided early stops getting seeds, by design),
    else the suite's seeds (and any seed seen)."""
    seen = set(jobs["seed"].tolist())
    variants = sorted(map(str, jobs["variant"].unique()))
    if analysis.stages is not None:
        staged = stage_seeds(analysis.stages)
        return {v: staged.get(v, set()) for v in variants}
    return {v: set(analysis.seeds or ()) | seen for v in variants}


def missing_jobs(jobs: pd.DataFrame, expected: dict[str, set[int]]) -> dict[str, list[int]]:
    """Per variant, the `expected` seeds without a result."""
    missing = {}
    for variant, group in jobs.groupby("variant", sort=True):
        absent = sorted(expected.get(str(variant), set()) - set(group["seed"].tolist()))
        if absent:
            missing[str(variant)] = absent
    return missing


def incomplete_text(missing: dict[str, list[int]], expected_jobs: int) -> str:
    """`INCOMPLETE suite: 2 of 32 jobs have no result yet (noisy_labels: seeds 6, 7); ...`."""
    count = sum(len(s) for s in missing.values())
    where = "; ".join(
        f"{v}: seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))}" for v, s in missing.items()
    )
    return (
        f"INCOMPLETE suite: {count} of {expected_jobs} jobs have no result yet ({where}); "
        "each comparison pairs the seeds both sides have and says which it left out."
    )


def expectation(
    variant: str, claim: dict | None, verdicts: dict[str, pd.DataFrame], metric: str
) -> tuple[str, str]:
    """(`helps (Salimans et al. 2016) on FID`, agree / disagree / undecided) for one variant.

    A claim of helps / hurts agrees with the same verdict, disagrees with the opposite one or
    with "equivalent" (no effect as large as the margin), and is undecided by "undecided"; a
    claim of no effect agrees with "equivalent", disagrees with helps / hurts and is undecided
    by "undecided".
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
    if observed == UNDECIDED:
        return "undecided"
    if expected == "no effect":
        return "agree" if observed == EQUIVALENT else "disagree"
    return "agree" if observed == expected else "disagree"


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


def seeds_text(seeds: float) -> str:
    """`24`, `over 200` or `-` (decided, or no spread to judge by)."""
    if pd.isna(seeds):
        return "-"
    return f"over {MAX_SEEDS}" if math.isinf(seeds) else f"{seeds:.0f}"


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
        name = column.removeprefix("median_")
        shown[marked(f"median {name}", name, headline)] = headline[column].map(number)
    shown["analysis"] = [a if isinstance(a, str) else "-" for a in headline["analysis"]]
    difference = marked(f"{metric} difference [95% CI]", metric, headline)
    shown[difference] = headline.apply(difference_text, axis=1)
    shown["CI rules out effects over"] = headline["rules_out"].map(number)
    shown["detectable (80% power)"] = headline["detectable"].map(number)
    shown["seeds to decide"] = headline["seeds_to_decide"].map(seeds_text)
    shown["P(improvement)"] = headline["p_improvement"].map(number)
    shown["adjusted p"] = headline["p_adjusted"].map(number)
    shown["verdict"] = headline["verdict"]
    if headline["expected"].astype(bool).any():
        shown["expected"] = headline["expected"]
        shown["agreement"] = headline["agreement"]
    shown["reason"] = headline["reason"]
    return shown


def design_text(headline: pd.DataFrame) -> str:
    """The analysis of a suite in one paragraph: completeness, correction, comparisons,
    interval, margin, floor, exploratory."""
    attrs = headline.attrs
    comparisons, floor = attrs["comparisons"], attrs["floor"]
    text = ""
    if attrs.get("missing"):
        text += incomplete_text(attrs["missing"], attrs["expected_jobs"]) + " "
    text += (
        f"Correction: {CORRECTIONS[attrs['correction']]} over {comparisons} comparisons "
        f"(alpha {attrs['alpha']}). CIs: {INTERVALS[attrs['interval']]}, 95%. Analyses: "
        + "; ".join(sorted(set(headline["analysis"].dropna())) or ["none"])
        + ". "
        + margin_text(attrs["metric"], attrs.get("margin"), attrs.get("margin_source"))
    )
    if comparisons:
        text += f" Smallest achievable adjusted p with these seeds: {floor:.2g}"
        text += " (the design cannot reach a verdict)." if floor >= attrs["alpha"] else "."
    if attrs.get("budget"):
        text += " " + budget_text(headline)
    if attrs["exploratory"]:
        text += f" EXPLORATORY suite: {attrs['exploratory']}"
    return text


def margin_text(metric: str, margin: float | None, source: str | None) -> str:
    """`Equivalence margin: ±1 FID (the registry's default).` or why there is none."""
    label = metric_label(metric)
    if margin is None:
        return (
            f"No equivalence margin for {label}: 'equivalent' is unreachable (set [suite] margin)."
        )
    origin = "declared by the suite" if source == "suite" else "the metric registry's default"
    return f"Equivalence margin: ±{margin:g} {label} ({origin})."


def metric_verdict_table(headline: pd.DataFrame) -> pd.DataFrame:
    """Every scored metric's verdict per variant, primary metric first, with its adjusted p:
    the equivalence test's for "equivalent", the difference test's otherwise."""
    verdicts, adjusted = headline.attrs["verdicts"], headline.attrs["adjusted"]
    equivalence = headline.attrs.get("equivalence_adjusted", {})
    primary = headline.attrs["metric"]
    order = [primary, *(m for m in verdicts if m != primary)]
    table = pd.DataFrame({"variant": headline["variant"]})
    for metric in order:
        title = f"{metric_label(metric)} ({better_phrase(metric)})"
        title += ", primary" if metric == primary else ""
        title = marked(title, metric, headline)
        cells = []
        for variant in headline["variant"]:
            verdict = verdicts[metric][variant]
            if verdict == EQUIVALENT:
                p, test = equivalence.get(metric, {}).get(variant, math.nan), "equivalence p"
            else:
                p, test = adjusted[metric][variant], "p"
            cells.append(verdict + ("" if pd.isna(p) else f" ({test} {number(p)})"))
        table[title] = cells
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
            *(f"> **warning**: {line}" for line in headline_warnings(headline)),
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
            *(stage_lines(analysis.stages) if analysis.stages else []),
            *budget_lines(headline),
            "Every scored metric (adjusted p: of the equivalence test for equivalent, of the "
            "difference otherwise; each metric corrected on its own):",
            "",
            *markdown_table(metric_verdict_table(headline)),
        ]
        sections.append("\n".join(lines) + "\n")
        index.append(f"- {suite}: {summary.index_line(headline)}")
        methods.append(f"- {suite}: {design_text(headline)}")
    lead = ["\n".join(index) + "\n"] if len(index) > 1 else []
    closing = "\n".join(["## Methods", "", VERDICT_RULE, "", *methods]) + "\n"
    return "\n".join([*lead, *sections, closing])


def budget_lines(headline: pd.DataFrame) -> list[str]:
    """Each comparison at every checkpoint (`bench.report.budget`), as Markdown lines."""
    shown = budget_display(headline)
    if shown.empty:
        return []
    label = metric_label(headline.attrs["metric"])
    lead = f"Across the training budget ({label} effect [95% CI] per checkpoint; {DESCRIPTIVE}):"
    return [lead, "", *markdown_table(shown), ""]


def stage_lines(record: dict) -> list[str]:
    """A sequential suite's stage decisions and jobs saved, as Markdown lines."""
    return [stage_summary(record), "", *markdown_table(stage_table(record)), ""]


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
    meta = suite_metas(results_dir, selections)
    if notes is not None:
        notes += selection_notes(selections, skipped)
    if fmt == "md":
        return format_markdown(jobs, metric, meta, correction, selections, interval)
    if fmt == "csv":
        table = headline_table(jobs, metric, meta, correction, interval, short=True)
        return table.to_csv(index=False)
    raise ResultsError(f"report format '{fmt}': expected 'md' or 'csv' (or html)")
