"""`bench report`: one self-contained HTML page (inline CSS, images as base64, no scripts).

The page answers "which tricks help?" first. With several suites it opens with an index, one
line per suite naming its decided tricks. Per suite, right under its title: the forest plot
with the effect-vs-steps figure beside it (`bench.report.budget`), the short verdict table, a
sentence for each verdict that is not plain, and the method in one line linking to the
Methods section at the end of the page. Below: the full table, every metric's verdict and the
checkpoints' verdicts (folded), grid main effects and interactions, per-seed pictures (slope
graphs where the seeds pair, box plots where they do not), training curves, sample grids,
failure modes, cost and provenance. This module decides what the page says; `markup` writes
it (and escapes every piece of user text).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bench.atomic import atomic_write_bytes
from bench.provenance import git_commit
from bench.report import markup, plots, summary, verdict_plots
from bench.report.budget import budget_display, budget_text
from bench.report.cost import cost_table, load_notes
from bench.report.headline import (
    VERDICT_RULE,
    Analysis,
    design_text,
    display_table,
    metric_verdict_table,
    number,
    present_metrics,
    suite_headline,
)
from bench.report.reliability import headline_warnings
from bench.report.sequential import stage_summary, stage_table, suite_metas
from bench.report.summary import short_table
from bench.report.table import load_histories, load_selection, selection_notes
from bench.report.trends import HISTORY_FILE, trends_section
from bench.report.tuning import tuning_section
from bench.report.verdict_style import every_style
from bench.report.verdicts import better_phrase, interactions, main_effects, metric_label
from bench.run.store.results import SAMPLES_FILE
from bench.run.store.selection import SuiteJobs
from bench.stats.bootstrap import Interval

NUMERIC = {"seeds", "scored", "diverged", "P(improvement)", "adjusted p", "jobs"}
NUMERIC |= {"CI rules out effects over", "detectable (80% power)", "seeds to decide"}
COLUMNS_TEXT = (
    "The forest plot and the short table: each variant against the reference over seeds, the "
    "effect on the primary metric (paired: the median of the per-seed differences variant - "
    "reference; unpaired: the difference in medians) with its bootstrap 95% CI, the verdict, "
    "the seeds, P(improvement) (paired: the share of seeds where the variant did better; "
    "unpaired: the chance that a seed of the variant beats a seed of the reference; 0.5 = no "
    "difference) and the corrected p-value. The full table adds the median of every metric, "
    "which analysis ran, the largest effect the CI leaves ('CI rules out') and the effect the "
    "design detects with 80% power from the observed spread, and the paired seeds that would "
    "decide an undecided comparison."
)


def build_report(
    results_dir: str | Path,
    suites: list[str] | None = None,
    out: str | Path | None = None,
    metric: str | None = None,
    correction: str | None = None,
    revision: str | None = None,
    notes: list[str] | None = None,
    interval: str | None = None,
) -> Path:
    """Write the report of `suites` (default: all) to `out` (default `reports/<suite|all>.html`).

    `metric` is the one in the headline (default: the suite's primary_metric, else FID where
    recorded); `correction` overrides the suites' ("holm" or "bh"); `revision` is the suite
    definition shown (default: the current one); `notes`, when given, receives a line for each
    warning and for what was not pooled; `interval` is the bootstrap CI's method ("percentile"
    or "bca"). Returns the file written.
    """
    jobs, selections, skipped = load_selection(results_dir, suites, revision)
    if notes is not None:
        notes += selection_notes(selections, skipped)
    selected = {s.suite: s for s in selections}
    metas = suite_metas(results_dir, selections)
    history = load_histories(jobs)
    names = sorted(jobs["suite"].unique())
    body, index, methods = [], [], []
    for i, name in enumerate(names):
        meta = selected[name].meta
        if meta.get("design") == "tune":
            body.append(trials_section(i, name, meta, results_dir))
            index.append((f"suite-{i}", name, "tuning trials (no verdicts)"))
            continue
        analysis = Analysis.of(metas[name], metric, correction, interval)
        suite_jobs = jobs[jobs["suite"] == name]
        headline = suite_headline(suite_jobs, analysis=analysis)
        body.append(
            suite_section(i, name, selected[name], suite_jobs, history, headline, analysis.stages)
        )
        body.append(tuning_section(results_dir, name))
        index.append((f"suite-{i}", name, summary.index_line(headline)))
        methods.append(f"{name}: {design_text(headline)}")
    body.append(trends_section(Path(results_dir) / HISTORY_FILE, names))
    body.append(methods_section(methods))
    commit = git_commit()
    html = markup.page(
        title=f"gan-bench report: {', '.join(names)}",
        meta=f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} from {results_dir}; "
        f"{len(jobs)} jobs; report built at git commit {commit or 'unknown (not in a repo)'}",
        index=index,
        body=body,
        verdict_styles=every_style(),
    )
    stem = suites[0] if suites and len(suites) == 1 else "all"
    path = Path(out) if out else Path("reports") / f"{stem}.html"
    atomic_write_bytes(path, html.encode())
    return path


def stage_part(record: dict) -> list[markup.Markup]:
    """A sequential suite's stage decisions and the jobs they saved."""
    return [markup.paragraph(stage_summary(record), "meta"), table(stage_table(record))]


def trials_section(index: int, name: str, meta: dict, results_dir: str | Path) -> markup.Markup:
    """A `bench tune` trials suite: its jobs are trials, not seeds, so no verdicts here."""
    tuned = name.removesuffix(".trials") + ".tuned"
    parts = [
        markup.paragraph(meta.get("description") or "", "meta"),
        markup.paragraph(
            "Each job here is one tuning trial, not a seed: variants are compared at their "
            f"tuned best, re-run on fresh seeds, in the suite {tuned} (bench tune --confirm).",
            "note",
        ),
        tuning_section(results_dir, name),
    ]
    return markup.section(f"Tuning trials {name}", parts, anchor=f"suite-{index}")


def budget_part(headline: pd.DataFrame) -> list[markup.Markup]:
    """Each comparison's verdict and effect at every checkpoint (`bench.report.budget`)."""
    shown = budget_display(headline)
    if shown.empty:
        return []
    return [markup.paragraph(budget_text(headline), "note"), table(shown)]


def suite_section(
    index: int,
    name: str,
    selected: SuiteJobs,
    jobs: pd.DataFrame,
    history: pd.DataFrame,
    headline: pd.DataFrame,
    stages: dict | None = None,
) -> markup.Markup:
    """Everything the page says about one suite, its verdicts first (`stages`: a sequential
    suite's stage record)."""
    meta = selected.meta
    warnings = [
        markup.paragraph(f"Warning: {line}", "warning")
        for line in [*headline_warnings(headline), *selected.warnings()]
    ]
    notes = [markup.paragraph(line, "note") for line in selected.notes()]
    used = headline.attrs["metric"]
    reference = jobs["reference_variant"].iloc[0]
    history = history[history["suite"] == name]
    seeds = ", ".join(map(str, sorted(jobs["seed"].unique())))
    forest = verdict_plots.forest_plot(headline, summary.seed_differences(jobs, headline))
    lead = markup.lead_figures(
        markup.figure(forest, f"forest plot of {used}"),
        beside=markup.figure(plots.budget_plot(headline), f"{used} effect vs training steps"),
    )
    method = markup.paragraph(
        summary.methods_line(headline, reference),
        "meta exploratory" if headline.attrs["exploratory"] else "meta",
        link=("How verdicts are reached", "#methods"),
    )
    details = markup.details(
        "Full table: medians of every metric, analysis, power, what the CI rules out; "
        "every scored metric's verdict",
        [
            markup.paragraph(COLUMNS_TEXT, "note"),
            table(display_table(headline)),
            markup.paragraph(
                "The verdict on each metric the suite scored, with its adjusted p; each "
                "metric is corrected over the suite's comparisons on its own, and the "
                "headline is on the primary one.",
                "note",
            ),
            table(metric_verdict_table(headline)),
            *budget_part(headline),
        ],
    )
    paired = [str(a).startswith("paired") for a in headline["analysis"].dropna()]
    if paired and all(paired):
        per_seed = [
            markup.figure(verdict_plots.slope_graph(jobs, m), f"{m} per seed: paired")
            for m in present_metrics(jobs)
        ]
    else:
        per_seed = [
            markup.figure(plots.metric_strip(jobs, m), f"{m} per seed")
            for m in present_metrics(jobs)
        ]
    curves = [
        *per_seed,
        markup.figure(plots.metric_curves(history, jobs, used), f"{used} over training"),
        markup.figure(plots.loss_curves(history, jobs), "losses over training"),
        markup.figure(plots.grad_norm_curves(history, jobs), "gradient norms over training"),
    ]
    samples = [
        markup.paragraph(
            "Same fixed latents for every job; one job per variant (lowest seed).", "note"
        ),
        samples_gallery(jobs),
    ]
    failures = [
        table(failure_table(jobs)),
        markup.figure(plots.failure_counts(jobs), "failure detector counts")
        or markup.paragraph("No failure detector fired in any job.", "note"),
    ]
    cost = [
        *(markup.paragraph(line, "warning") for line in load_notes(jobs)),
        table(cost_table(jobs)),
        markup.figure(plots.cost_plot(jobs), "wall time per job"),
    ]
    provenance = [
        markup.paragraph(f"Suite revision: {selected.revision or 'not recorded'}.", "meta"),
        *warnings,
        table(provenance_table(jobs)),
        markup.paragraph(f"Suite file: {meta.get('source_file', 'unknown')}", "meta"),
        markup.preformatted(meta.get("source_text") or "(not recorded)"),
        markup.paragraph(f"Command-line overrides: {meta.get('overrides') or 'none'}", "meta"),
    ]
    parts = [
        *warnings,
        lead,
        table(short_table(headline), css="short"),
        markup.bullets(summary.reasons(headline), "reasons"),
        *(stage_part(stages) if stages else []),
        method,
        markup.paragraph(meta.get("description") or "", "meta"),
        markup.paragraph(
            f"Design: {meta.get('design', 'unknown')}; reference variant: {reference}; "
            f"seeds: {seeds}; {len(jobs)} jobs.",
            "meta",
        ),
        *notes,
        details,
        grid_section(jobs, used, headline.attrs["interval"])
        if meta.get("design") == "grid"
        else "",
        markup.section("Per-seed results and training curves", curves, level=3),
        markup.section("Samples", samples, level=3),
        markup.section("Failure modes", failures, level=3),
        markup.section("Cost", cost, level=3),
        markup.section("Provenance", provenance, level=3),
    ]
    return markup.section(f"Suite {name}", parts, anchor=f"suite-{index}")


def methods_section(designs: list[str]) -> markup.Markup:
    """The end of the page: how each verdict is reached, and each suite's analysis."""
    if not designs:
        return markup.Markup()
    parts = [
        markup.paragraph(VERDICT_RULE, "note"),
        markup.paragraph(COLUMNS_TEXT, "note"),
        markup.bullets(designs, "reasons"),
    ]
    return markup.section("Methods", parts, anchor="methods")


def grid_section(jobs: pd.DataFrame, metric: str, interval: Interval) -> markup.Markup:
    """Main effects (table) and pairwise interactions (heatmap) of a grid design."""
    effects = main_effects(jobs, metric, interval=interval)
    shown = pd.DataFrame(
        {
            "trick": effects["trick"],
            "level": effects["level"],
            "jobs on / off": effects["n_on"].astype(str) + " / " + effects["n_off"].astype(str),
            "analysis": effects["analysis"].fillna("-"),
            f"main effect on {metric} [95% CI]": [
                f"{number(e)} [{number(lo)}, {number(hi)}]"
                for e, lo, hi in effects[["effect", "ci_low", "ci_high"]].itertuples(index=False)
            ],
        }
    )
    note = (
        f"Main effect: mean {metric_label(metric)} of the jobs with the trick level on minus "
        f"the jobs with the trick off, averaged over the other tricks ({better_phrase(metric)}); "
        "paired: within each seed, then averaged over seeds, with a bootstrap CI over seeds. "
        "Interaction: how much a trick's effect changes when another is also on; 0 = additive."
    )
    heatmap = plots.interaction_heatmap(interactions(jobs, metric), metric)
    parts = [markup.paragraph(note, "note"), table(shown), markup.figure(heatmap, "interactions")]
    return markup.section("Grid: main effects and interactions", parts, level=3)


def samples_gallery(jobs: pd.DataFrame) -> markup.Markup:
    """Each variant's sample grid (lowest seed with samples), side by side."""
    figures = []
    for variant in plots.variant_order(jobs):
        runs = jobs[jobs["variant"] == variant].sort_values("seed")
        paths = [Path(d) / SAMPLES_FILE for d in runs["job_dir"]]
        found = [(seed, p) for seed, p in zip(runs["seed"], paths, strict=True) if p.is_file()]
        if found:
            seed, path = found[0]
            shown = markup.figure(
                path.read_bytes(), f"samples of {variant}", f"{variant} (seed {seed})"
            )
        else:
            missing = "no samples (generator output was not finite)"
            shown = markup.figure(None, f"samples of {variant}", variant, missing)
        figures.append(shown)
    return markup.gallery(figures)


def failure_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per variant: diverged seeds, at which steps and why, and warning events by detector."""
    detectors = [c for c in jobs.columns if c.startswith("events.")]
    rows = []
    for variant in plots.variant_order(jobs):
        runs = jobs[jobs["variant"] == variant]
        diverged = runs[runs["status"] == "diverged"]
        fired = [
            f"{c.removeprefix('events.')}: {(runs[c] > 0).sum()} jobs, {runs[c].sum()} events"
            for c in detectors
            if runs[c].sum()
        ]
        rows.append(
            {
                "variant": variant,
                "seeds": str(len(runs)),
                "diverged": str(len(diverged)),
                "at steps": ", ".join(str(int(s)) for s in diverged["diverged_at"].dropna()) or "-",
                "reasons": "; ".join(sorted(set(diverged["reason"].dropna()))) or "-",
                "detectors fired": "; ".join(fired) or "-",
            }
        )
    return pd.DataFrame(rows)


def provenance_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Each recorded provenance, device, version, fingerprint and plugin field, with its values."""
    prefixes = ("provenance.", "version.", "fingerprint.", "plugin.")
    columns = [c for c in jobs.columns if c.startswith(prefixes)]
    rows = [
        {"field": c, "values": ", ".join(map(str, jobs[c].dropna().unique()))}
        for c in [*columns, "device"]
        if c in jobs
    ]
    return pd.DataFrame(rows, columns=["field", "values"])


def table(frame: pd.DataFrame, css: str | None = None) -> markup.Markup:
    """`markup.table` of `frame`, counts, medians and statistics right-aligned."""
    numeric = [c for c in frame.columns if c in NUMERIC or c.startswith("median")]
    return markup.table(frame, numeric, css)
