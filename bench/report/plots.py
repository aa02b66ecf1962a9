"""Seaborn figures as PNG bytes, drawn on matplotlib `Figure`s (Agg; no pyplot state).

Every function takes one suite's jobs (from `load_results`) and/or their stacked histories
(from `load_histories`), or its headline (`budget_plot`), and returns the PNG, or None when
there is nothing to draw.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import MatplotlibDeprecationWarning
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from bench.report.verdict_style import style
from bench.report.verdicts import REFERENCE, better_phrase, metric_label
from bench.train.monitor import GRAD_NORM_LIMIT

WIDTH = 9.0


def variant_order(jobs: pd.DataFrame) -> list[str]:
    """The suite's reference variant first, then the others alphabetically."""
    reference = jobs["reference_variant"].iloc[0]
    return sorted(jobs["variant"].unique(), key=lambda v: (v != reference, v))


def palette(variants: list[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per variant, the same in every figure of a suite."""
    colours = sns.color_palette("tab10" if len(variants) <= 10 else "husl", len(variants))
    return dict(zip(variants, colours, strict=True))


@contextmanager
def figure(height: float, ncols: int = 1) -> Iterator[tuple[Figure, list]]:
    """A styled figure with `ncols` panels side by side."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.8):
        fig = Figure(figsize=(WIDTH, height), dpi=100)
        yield fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _rows_height(rows: int) -> float:
    return 1.2 + 0.35 * rows


def metric_strip(jobs: pd.DataFrame, metric: str) -> bytes | None:
    """Per-seed values of `metric` per variant: box plot with every seed as a dot."""
    order = variant_order(jobs)
    finished = jobs[(jobs["status"] == "ok") & jobs[metric].notna()] if metric in jobs else None
    if finished is None or finished.empty:
        return None
    diverged = jobs[jobs["status"] == "diverged"].groupby("variant").size()
    labels = [f"{v} ({diverged[v]} diverged)" if v in diverged else v for v in order]
    with figure(_rows_height(len(order))) as (fig, (ax,)):
        common = {"data": finished, "x": metric, "y": "variant", "order": order, "ax": ax}
        with warnings.catch_warnings():  # seaborn 0.13 passes `vert`, deprecated in mpl 3.11
            warnings.filterwarnings("ignore", "vert: bool", MatplotlibDeprecationWarning)
            sns.boxplot(**common, color="0.92", showfliers=False, width=0.6)
        sns.stripplot(**common, hue="variant", palette=palette(order), legend=False, size=6)
        reference = finished.loc[finished["variant"] == order[0], metric].median()
        ax.axvline(reference, color="0.4", linestyle=":", linewidth=1)
        ax.set_yticks(range(len(order)), labels)
        ax.set(ylabel="", xlabel=metric_label(metric))
        phrase = better_phrase(metric)
        ax.set_title(f"{metric_label(metric)} per seed ({phrase}); dotted line: reference median")
        return to_png(fig)


def curves(
    history: pd.DataFrame,
    jobs: pd.DataFrame,
    columns: list[str],
    title: str,
    *,
    log: bool = False,
    limit: float | None = None,
) -> bytes | None:
    """`columns` over training steps: median over seeds per variant, shaded min-max band.

    Dashed vertical lines mark where a job of that variant diverged.
    """
    columns = [c for c in columns if c in history and history[c].notna().any()]
    if not columns:
        return None
    order = variant_order(jobs)
    colours = palette(order)
    stops = jobs.dropna(subset=["diverged_at"])
    with figure(3.2, len(columns)) as (fig, axes):
        for i, (ax, column) in enumerate(zip(axes, columns, strict=True)):
            sns.lineplot(
                data=history,
                x="step",
                y=column,
                hue="variant",
                hue_order=order,
                palette=colours,
                estimator="median",
                errorbar=("pi", 100),
                legend=i == len(columns) - 1,
                ax=ax,
            )
            for stop in stops.itertuples():
                ax.axvline(stop.diverged_at, color=colours[stop.variant], linestyle="--", lw=1)
            if limit is not None:
                ax.axhline(limit, color="tab:red", linestyle=":", linewidth=1)
            if log:
                ax.set_yscale("log")
            ax.set(title=column, ylabel="")
        if len(order) > 1:
            sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
        elif axes[-1].get_legend() is not None:
            axes[-1].get_legend().remove()
        fig.suptitle(title, y=1.02)
        return to_png(fig)


def loss_curves(history: pd.DataFrame, jobs: pd.DataFrame) -> bytes | None:
    title = "Losses: median over the seeds still training, band = min to max; dashed = divergence"
    return curves(history, jobs, ["d_loss", "g_loss"], title)


def grad_norm_curves(history: pd.DataFrame, jobs: pd.DataFrame) -> bytes | None:
    """The largest D and G gradient norm per log interval (what the explosion detector reads)."""
    peaks = ["d_grad_norm_max", "g_grad_norm_max"]
    columns = peaks if set(peaks) <= set(history) else ["d_grad_norm", "g_grad_norm"]
    title = (
        "Gradient norms: median over seeds, band = min to max; "
        f"dotted = explosion threshold {GRAD_NORM_LIMIT:g}"
    )
    return curves(history, jobs, columns, title, log=True, limit=GRAD_NORM_LIMIT)


def metric_curves(history: pd.DataFrame, jobs: pd.DataFrame, metric: str) -> bytes | None:
    """`metric` at each evaluation point during training, where histories record it.

    None unless some job was scored at two or more steps (`eval.every`): one point is no curve.
    """
    if metric not in history:
        return None
    points = history.dropna(subset=[metric])
    if points["step"].nunique() < 2:
        return None
    phrase = better_phrase(metric)
    title = f"{metric_label(metric)} over training ({phrase}): median, band = min to max"
    return curves(points, jobs, [metric], title)


def failure_counts(jobs: pd.DataFrame) -> bytes | None:
    """Per variant, in how many seeds each failure detector fired."""
    detectors = [c for c in jobs.columns if c.startswith("events.")]
    if not detectors or not jobs[detectors].to_numpy().any():
        return None
    order = variant_order(jobs)
    fired = (jobs[detectors] > 0).groupby(jobs["variant"]).sum().reindex(order)
    fired.columns = [c.removeprefix("events.") for c in fired.columns]
    counts = fired.reset_index().melt(id_vars="variant", var_name="detector", value_name="jobs")
    with figure(_rows_height(len(order))) as (fig, (ax,)):
        sns.barplot(data=counts, x="jobs", y="variant", hue="detector", order=order, ax=ax)
        seeds = jobs.groupby("variant").size().max()
        ax.set(ylabel="", xlabel=f"jobs (of up to {seeds} seeds)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title("Failure detectors: jobs in which each fired")
        return to_png(fig)


def cost_plot(jobs: pd.DataFrame) -> bytes | None:
    """Wall time of every job, per variant."""
    if "wall_time_s" not in jobs or jobs["wall_time_s"].isna().all():
        return None
    order = variant_order(jobs)
    with figure(_rows_height(len(order))) as (fig, (ax,)):
        common = {"data": jobs, "x": "wall_time_s", "y": "variant", "order": order, "ax": ax}
        sns.barplot(**common, color="0.85", estimator="median", errorbar=None)
        sns.stripplot(**common, hue="variant", palette=palette(order), legend=False, size=5)
        ax.set(ylabel="", xlabel="wall time per job (s)")
        ax.set_title("Cost: wall time per job (bar = median, dots = seeds)")
        return to_png(fig)


def interaction_heatmap(matrix: pd.DataFrame, metric: str) -> bytes | None:
    """Grid designs: the pairwise interaction matrix of `stats.interactions`."""
    if matrix.shape[0] < 2 or matrix.isna().all().all():
        return None
    size = 1.5 + 0.7 * matrix.shape[0]
    with figure(size) as (fig, (ax,)):
        fig.set_figwidth(size + 2)
        cmap = "vlag" if better_phrase(metric).startswith("lower") else "vlag_r"
        extreme = float(np.nanmax(np.abs(matrix.to_numpy()))) or 1.0
        limits = {"vmin": -extreme, "vmax": extreme}
        sns.heatmap(matrix, annot=True, fmt=".3g", cmap=cmap, square=True, ax=ax, **limits)
        ax.grid(False)
        ax.set_title(
            f"Interactions in {metric_label(metric)} ({better_phrase(metric)}): row trick's effect "
            "with the column trick on minus off",
            fontsize="small",
        )
        return to_png(fig)


BUDGET_WIDTH = 7.0
LINE_STYLES = ("-", "--", "-.", ":")


def budget_plot(headline: pd.DataFrame) -> bytes | None:
    """Effect on the primary metric vs training steps (`bench.report.budget`): per variant,
    its median paired difference at each checkpoint with the 95% CI as a band, the line in the
    colour of its headline verdict, each checkpoint marked as its own (descriptive) verdict;
    a zero line, the headline step dashed, the last half of training shaded (where a changed
    verdict makes a comparison budget-sensitive). None without two checkpoints."""
    budget = headline.attrs.get("budget") or {}
    points = pd.DataFrame(budget.get("checkpoints") or [])
    if points.empty or points["step"].nunique() < 2:
        return None
    metric = headline.attrs["metric"]
    label, phrase = metric_label(metric), better_phrase(metric)
    verdicts = dict(zip(headline["variant"], headline["verdict"], strict=True))
    flags = dict(zip(headline["variant"], headline.get("budget_sensitive", []), strict=False))
    bounds = points[["difference", "ci_low", "ci_high"]].to_numpy(float)
    finite = bounds[np.isfinite(bounds)]
    low, high = (min(finite.min(), 0.0), max(finite.max(), 0.0)) if finite.size else (-1, 1)
    pad = 0.08 * (high - low or 1.0)
    low, high = low - pad, high + pad
    step, end = budget["step"], budget["end"]
    with figure(4.2) as (fig, (ax,)):
        fig.set_figwidth(BUDGET_WIDTH)
        ax.axvspan(end / 2, end, color="0.93", lw=0, zorder=0)
        ax.axhline(0, color="0.25", lw=1, zorder=1)
        ax.axvline(step, color="0.35", lw=1, linestyle="--", zorder=1)
        for i, (variant, rows) in enumerate(points.groupby("variant", sort=False)):
            rows = rows.sort_values("step")
            look = style(verdicts.get(variant, ""))
            lines = LINE_STYLES[i % len(LINE_STYLES)]
            x = rows["step"].to_numpy(float)
            y = np.clip(rows["difference"].to_numpy(float), low, high)
            ci = [np.clip(rows[c].to_numpy(float), low, high) for c in ("ci_low", "ci_high")]
            ax.fill_between(x, *ci, color=look.colour, alpha=0.14, lw=0, zorder=2)
            ax.plot(x, y, color=look.colour, lw=2, linestyle=lines, zorder=3)
            for xs, ys, verdict in zip(x, y, rows["verdict"], strict=True):
                mark = style(verdict)
                face = mark.colour if mark.filled else "white"
                ax.plot(xs, ys, marker=mark.marker, ms=7, mfc=face, mec=mark.colour, mew=1.8,
                        zorder=4)  # fmt: skip
            name = variant + (" (budget-sensitive)" if flags.get(variant) else "")
            ax.annotate(name, (x[-1], y[-1]), xytext=(6, 0), textcoords="offset points",
                        va="center", color=look.colour, fontsize="small")  # fmt: skip
        ax.set_ylim(low, high)
        ax.set_xlim(0, end * 1.02)
        ax.set_xlabel(f"training steps (dashed: the headline, step {step}; shaded: last half)")
        ax.set_ylabel(f"{label}: variant - reference ({phrase})")
        ax.set_title(
            f"Effect on {label} across the training budget: median paired difference, 95% CI "
            "band; markers: each checkpoint's verdict (descriptive)",
            fontsize="small",
        )
        handles = []
        for verdict in dict.fromkeys([*headline["verdict"], *points["verdict"]]):
            if verdict == REFERENCE:
                continue
            look = style(verdict)
            face = look.colour if look.filled else "white"
            handles.append(Line2D([], [], color=look.colour, marker=look.marker, mfc=face,
                                  lw=2, label=verdict))  # fmt: skip
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                  ncols=max(1, len(handles)), frameon=False, fontsize="small")  # fmt: skip
        return to_png(fig)
