"""`bench report`: one self-contained HTML page (inline CSS, images as base64, no scripts).

Per suite: the headline table (every variant vs the reference, with the verdict rule), grid
main effects and interactions, per-seed and training-curve plots, sample grids, failure
modes, cost and provenance. Every piece of user text is escaped.
"""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from string import Template

import pandas as pd

from bench.report import plots
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
from bench.report.stats import better_phrase, interactions, main_effects, metric_label
from bench.report.table import load_histories, load_selection, selection_notes
from bench.report.trends import HISTORY_FILE, trends_section
from bench.report.tuning import tuning_section
from bench.run.selection import SuiteJobs
from bench.run.store import SAMPLES_FILE, atomic_write_bytes
from bench.stats.bootstrap import Interval

NUMERIC = {"seeds", "scored", "diverged", "P(improvement)", "adjusted p", "jobs"}
NUMERIC |= {"CI rules out effects over", "detectable (80% power)"}


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
    history = load_histories(jobs)
    names = sorted(jobs["suite"].unique())
    sections = [
        trials_section(i, name, selected[name].meta, results_dir)
        if selected[name].meta.get("design") == "tune"
        else suite_section(
            i,
            name,
            selected[name],
            jobs[jobs["suite"] == name],
            history,
            Analysis.of(selected[name].meta, metric, correction, interval),
        )
        + tuning_section(results_dir, name)
        for i, name in enumerate(names)
    ]
    toc = "".join(f'<li><a href="#suite-{i}">{escape(n)}</a></li>' for i, n in enumerate(names))
    commit = git_commit()
    page = Template(resources.files("bench.report").joinpath("templates/report.html").read_text())
    html = page.substitute(
        title=escape(f"gan-bench report: {', '.join(names)}"),
        meta=escape(
            f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} from {results_dir}; "
            f"{len(jobs)} jobs; report built at git commit {commit or 'unknown (not in a repo)'}"
        ),
        toc=toc,
        body="\n".join([*sections, trends_section(Path(results_dir) / HISTORY_FILE, names)]),
    )
    stem = suites[0] if suites and len(suites) == 1 else "all"
    path = Path(out) if out else Path("reports") / f"{stem}.html"
    atomic_write_bytes(path, html.encode())
    return path


def git_commit() -> str | None:
    """`git rev-parse HEAD` of the working directory, or None outside a repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def trials_section(index: int, name: str, meta: dict, results_dir: str | Path) -> str:
    """A `bench tune` trials suite: its jobs are trials, not seeds, so no verdicts here."""
    tuned = name.removesuffix(".trials") + ".tuned"
    return "\n".join(
        [
            f'<section id="suite-{index}"><h2>Tuning trials {escape(name)}</h2>',
            paragraph(meta.get("description") or "", "meta"),
            paragraph(
                "Each job here is one tuning trial, not a seed: variants are compared at their "
                f"tuned best, re-run on fresh seeds, in the suite {tuned} (bench tune --confirm).",
                "note",
            ),
            tuning_section(results_dir, name),
            "</section>",
        ]
    )


def suite_section(
    index: int,
    name: str,
    selected: SuiteJobs,
    jobs: pd.DataFrame,
    history: pd.DataFrame,
    analysis: Analysis,
) -> str:
    """Everything the page says about one suite."""
    meta = selected.meta
    warnings = "".join(paragraph(f"Warning: {line}", "warning") for line in selected.warnings())
    notes = "".join(paragraph(line, "note") for line in selected.notes())
    headline = suite_headline(jobs, analysis=analysis)
    used = headline.attrs["metric"]
    history = history[history["suite"] == name]
    seeds = ", ".join(map(str, sorted(jobs["seed"].unique())))
    parts = [
        f'<section id="suite-{index}"><h2>Suite {escape(name)}</h2>',
        paragraph(meta.get("description") or "", "meta"),
        paragraph(
            f"Design: {meta.get('design', 'unknown')}; reference variant: "
            f"{jobs['reference_variant'].iloc[0]}; seeds: {seeds}; {len(jobs)} jobs.",
            "meta",
        ),
        warnings,
        notes,
        "<h3>Which variants help?</h3>",
        paragraph(design_text(headline), "meta exploratory" if analysis.exploratory else "meta"),
        paragraph(
            f"Compared on {metric_label(used)} ({better_phrase(used)}). Each row is one variant "
            "against the reference over seeds: median per metric, which analysis ran, the "
            "difference (variant - reference) with its bootstrap 95% CI, the largest effect that "
            "CI leaves, the effect the design detects with 80% power, and P(improvement): paired, "
            "the share of seeds where the variant did better; unpaired, the chance that a seed of "
            "the variant beats a seed of the reference (0.5 = no difference). " + VERDICT_RULE,
            "note",
        ),
        table_html(display_table(headline)),
        "<h4>Every scored metric</h4>",
        paragraph(
            "The verdict on each metric the suite scored, with its adjusted p; each metric is "
            "corrected over the suite's comparisons on its own, and the headline is on the "
            "primary one.",
            "note",
        ),
        table_html(metric_verdict_table(headline)),
        grid_section(jobs, used, analysis.interval) if meta.get("design") == "grid" else "",
        "<h3>Per-seed results and training curves</h3>",
        *(image(plots.metric_strip(jobs, m), f"{m} per seed") for m in present_metrics(jobs)),
        image(plots.metric_curves(history, jobs, used), f"{used} over training"),
        image(plots.loss_curves(history, jobs), "losses over training"),
        image(plots.grad_norm_curves(history, jobs), "gradient norms over training"),
        "<h3>Samples</h3>",
        paragraph("Same fixed latents for every job; one job per variant (lowest seed).", "note"),
        samples_html(jobs),
        "<h3>Failure modes</h3>",
        table_html(failure_table(jobs)),
        image(plots.failure_counts(jobs), "failure detector counts")
        or paragraph("No failure detector fired in any job.", "note"),
        "<h3>Cost</h3>",
        table_html(cost_table(jobs)),
        image(plots.cost_plot(jobs), "wall time per job"),
        "<h3>Provenance</h3>",
        paragraph(f"Suite revision: {selected.revision or 'not recorded'}.", "meta"),
        warnings,
        table_html(provenance_table(jobs)),
        paragraph(f"Suite file: {meta.get('source_file', 'unknown')}", "meta"),
        f"<pre>{escape(meta.get('source_text') or '(not recorded)')}</pre>",
        paragraph(f"Command-line overrides: {meta.get('overrides') or 'none'}", "meta"),
        "</section>",
    ]
    return "\n".join(part for part in parts if part)


def grid_section(jobs: pd.DataFrame, metric: str, interval: Interval) -> str:
    """Main effects (table) and pairwise interactions (heatmap) of a grid design."""
    effects = main_effects(jobs, metric, interval=interval)
    shown = pd.DataFrame(
        {
            "trick": effects["trick"],
            "level": effects["level"],
            "jobs on / off": effects["n_on"].astype(str) + " / " + effects["n_off"].astype(str),
            f"main effect on {metric} [95% CI]": [
                f"{number(e)} [{number(lo)}, {number(hi)}]"
                for e, lo, hi in effects[["effect", "ci_low", "ci_high"]].itertuples(index=False)
            ],
        }
    )
    note = (
        f"Main effect: mean {metric_label(metric)} of the jobs with the trick level on minus "
        f"the jobs with the trick off, averaged over the other tricks ({better_phrase(metric)}). "
        "Interaction: how much a trick's effect changes when another is also on; 0 = additive."
    )
    heatmap = image(plots.interaction_heatmap(interactions(jobs, metric), metric), "interactions")
    title = "<h3>Grid: main effects and interactions</h3>"
    return "\n".join([title, paragraph(note, "note"), table_html(shown), heatmap])


def samples_html(jobs: pd.DataFrame) -> str:
    """Each variant's sample grid (lowest seed with samples), side by side."""
    figures = []
    for variant in plots.variant_order(jobs):
        runs = jobs[jobs["variant"] == variant].sort_values("seed")
        paths = [Path(d) / SAMPLES_FILE for d in runs["job_dir"]]
        found = [(seed, p) for seed, p in zip(runs["seed"], paths, strict=True) if p.is_file()]
        if found:
            seed, path = found[0]
            body = _img_tag(path.read_bytes(), f"samples of {variant}")
            caption = f"{variant} (seed {seed})"
        else:
            body, caption = "<p>no samples (generator output was not finite)</p>", variant
        figures.append(f"<figure>{body}<figcaption>{escape(caption)}</figcaption></figure>")
    return f'<div class="samples">{"".join(figures)}</div>'


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


def cost_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per variant: median wall time and steps/s, and the compute spent on all its seeds."""
    grouped = jobs.groupby("variant")
    table = pd.DataFrame(
        {
            "jobs": grouped.size().astype(str),
            "median wall time (s)": grouped["wall_time_s"].median().map(number),
            "median train steps/s": grouped["steps_per_s"].median().map(number),
            "total wall time (s)": grouped["wall_time_s"].sum().map(number),
        }
    ).reindex(plots.variant_order(jobs))
    total = {"jobs": str(len(jobs)), "total wall time (s)": number(jobs["wall_time_s"].sum())}
    table.loc["all variants"] = pd.Series(total)
    return table.fillna("").rename_axis("variant").reset_index()


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


def paragraph(text: str, css: str) -> str:
    return f'<p class="{css}">{escape(text)}</p>' if text else ""


def _img_tag(png: bytes, alt: str, css: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    cls = f' class="{css}"' if css else ""
    return f'<img{cls} alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def image(png: bytes | None, alt: str) -> str:
    """An embedded plot, or nothing when there was nothing to draw."""
    return _img_tag(png, alt, "plot") if png else ""


def table_html(frame: pd.DataFrame) -> str:
    """An escaped HTML table of `frame`; numbers right-aligned, verdicts coloured."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = (
        "<tr>" + "".join(_cell(c, v) for c, v in row.items()) + "</tr>"
        for row in frame.to_dict("records")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(column: str, value: object) -> str:
    if column == "verdict":
        css = f"verdict-{str(value).replace(' ', '-')}"
    else:
        css = "number" if column in NUMERIC or column.startswith("median") else ""
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{escape(str(value))}</td>"
