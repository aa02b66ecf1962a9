"""The figures that show the verdicts: the forest plot that leads each suite, and slope graphs
of the paired seeds.

Forest plot: one row per variant, its effect on the primary metric (median paired difference)
with its 95% CI, coloured by verdict, a zero line, the equivalence margin where the comparison
data carry one (`margin`), and each seed's paired difference as a dot, the meta-analysis forest
plot as drawn by rliable's interval estimates (Agarwal et al. 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice"). Slope graph: each seed a line from the
reference to the variant (Tufte 1983, "The Visual Display of Quantitative Information"),
green where the variant did better on that seed, orange where worse.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation

from bench.report.plots import figure, to_png, variant_order
from bench.report.summary import difference_text
from bench.report.verdict_style import HELPS, HURTS, MARGIN_COLOUR, STYLES, UNDECIDED, style
from bench.report.verdicts import REFERENCE, better_phrase, direction, metric_label

FOREST_WIDTH = 7.0
LABEL_WIDTH = 28  # characters per line of a variant name on an axis


def wrap(name: str) -> str:
    """A long variant name over several lines, broken after `+` or `_` where possible."""
    spaced = name.replace("+", "+ ").replace("_", "_ ")
    return "\n".join(
        line.replace("+ ", "+").replace("_ ", "_")
        for line in textwrap.wrap(spaced, LABEL_WIDTH, break_long_words=True)
    )


def _limits(values: list[float]) -> tuple[float, float]:
    """x limits around the finite `values` and 0, with room for the edge markers."""
    finite = [v for v in values if np.isfinite(v)] + [0.0]
    low, high = min(finite), max(finite)
    pad = 0.08 * (high - low or 1.0)
    return low - pad, high + pad


def forest_plot(headline: pd.DataFrame, differences: pd.DataFrame) -> bytes | None:
    """The suite's verdicts at a glance (see the module docstring); None without a variant.

    `headline`: `suite_headline`; `differences`: `summary.seed_differences`. An infinite CI
    bound or a failed seed is drawn as an arrow at the plot's edge.
    """
    rows = headline[headline["verdict"] != REFERENCE].reset_index(drop=True)
    if rows.empty:
        return None
    metric = headline.attrs["metric"]
    label = metric_label(metric)
    margins = rows["margin"] if "margin" in rows else pd.Series(np.nan, index=rows.index)
    spread = [*rows["ci_low"], *rows["ci_high"], *differences["difference"]]
    spread += [*margins.fillna(0), *(-margins.fillna(0))]
    low, high = _limits(spread)
    with figure(1.3 + 0.42 * len(rows)) as (fig, (ax,)):
        fig.set_figwidth(FOREST_WIDTH)
        for i, row in rows.iterrows():
            look = style(row["verdict"])
            if pd.notna(margins[i]):
                m = float(margins[i])
                ax.fill_betweenx([i - 0.45, i + 0.45], -m, m, color=MARGIN_COLOUR, alpha=0.13, lw=0)
            seeds = differences.loc[differences["variant"] == row["variant"], "difference"]
            _seed_dots(ax, seeds.dropna().to_numpy(float), i, look.colour, low, high)
            if pd.notna(row["difference"]):
                ci = np.clip([row["ci_low"], row["ci_high"]], low, high)
                ax.plot(ci, [i, i], color=look.colour, lw=2.6, solid_capstyle="butt", zorder=3)
                for bound, edge, marker in ((row["ci_low"], low, "<"), (row["ci_high"], high, ">")):
                    if math.isinf(bound):
                        ax.plot(edge, i, marker=marker, color=look.colour, ms=7, zorder=3)
                face = look.colour if look.filled else "white"
                point = float(np.clip(row["difference"], low, high))
                ax.plot(
                    point, i, marker=look.marker, ms=9, mfc=face, mec=look.colour, mew=2, zorder=4
                )
            text = f"{row['verdict']}  {difference_text(row)}"
            weight = "bold" if look.bold else "normal"
            where = {"xycoords": ("axes fraction", "data"), "va": "center"}
            ax.annotate(text, (1.01, i), color=look.colour, fontweight=weight, **where)
        ax.axvline(0, color="0.25", lw=1, zorder=2)
        ax.set_xlim(low, high)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_yticks(range(len(rows)), [wrap(v) for v in rows["variant"]])
        ax.grid(axis="y", visible=False)
        reference = headline.loc[headline["verdict"] == REFERENCE, "variant"]
        against = reference.iloc[0] if len(reference) else "the reference"
        ax.set_xlabel(f"{label}: variant - {against}, per seed ({better_phrase(metric)})")
        lower = direction(metric) < 0
        left, right = ("<- better", "worse ->") if lower else ("<- worse", "better ->")
        edge = {"xycoords": "axes fraction", "va": "bottom", "color": "0.3"}
        ax.annotate(left, (0, 1.01), ha="left", **edge)
        ax.annotate(right, (1, 1.01), ha="right", **edge)
        ax.set_title(
            f"Effect on {label} ({better_phrase(metric)}): median paired difference, 95% CI, "
            "dots = seeds",
            pad=16,
        )
        _legend(ax, rows, margins)
        return to_png(fig)


def _seed_dots(ax, values: np.ndarray, row: int, colour: str, low: float, high: float) -> None:
    """Each seed's difference as a small dot, spread a little vertically; failures as arrows."""
    if not len(values):
        return
    offsets = np.linspace(-0.22, 0.22, len(values)) if len(values) > 1 else np.zeros(1)
    order = np.argsort(np.argsort(values, kind="stable"))
    y = row + offsets[order]
    finite = np.isfinite(values)
    ax.scatter(values[finite], y[finite], s=14, color=colour, alpha=0.55, lw=0, zorder=2.5)
    for value, height in zip(values[~finite], y[~finite], strict=True):
        edge, marker = (high, ">") if value > 0 else (low, "<")
        ax.plot(edge, height, marker=marker, ms=5, color=colour, alpha=0.8, zorder=2.5)


def _legend(ax, rows: pd.DataFrame, margins: pd.Series) -> None:
    """The verdicts shown, and the margin band where there is one, under the plot."""
    handles = []
    for verdict in dict.fromkeys(rows["verdict"]):
        look = style(verdict)
        face = look.colour if look.filled else "white"
        handles.append(
            Line2D([], [], color=look.colour, marker=look.marker, mfc=face, lw=2.6, label=verdict)
        )
    if margins.notna().any():
        widths = sorted({number for number in margins.dropna()})
        text = "equivalence margin ±" + ", ±".join(f"{w:g}" for w in widths)
        handles.append(Patch(color=MARGIN_COLOUR, alpha=0.13, label=text))
    below = ax.transAxes + ScaledTranslation(0, -0.5, ax.figure.dpi_scale_trans)
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0),
        bbox_transform=below,
        ncols=len(handles),
        frameon=False,
        fontsize="small",
    )


def slope_graph(jobs: pd.DataFrame, metric: str) -> bytes | None:
    """Per variant, each seed's `metric` as a line from the reference to the variant; a failed
    or unscored seed is a cross at the worse edge. None when no seed pairs."""
    if metric not in jobs:
        return None
    order = variant_order(jobs)
    reference, others = order[0], order[1:]
    values = pd.to_numeric(jobs[metric], errors="coerce").where(jobs["status"] == "ok")
    table = jobs.assign(_value=values).pivot_table(
        index="seed", columns="variant", values="_value", aggfunc="first", dropna=False
    )
    seeds = jobs.groupby("variant")["seed"].apply(set)
    if not others or reference not in table or table.notna().sum().sum() == 0:
        return None
    sign = direction(metric)
    finite = table.to_numpy(float)
    finite = finite[np.isfinite(finite)]
    span = float(finite.max() - finite.min()) or 1.0
    failed_at = (finite.max() + 0.12 * span) if sign < 0 else (finite.min() - 0.12 * span)
    ncols = min(4, len(others))
    nrows = math.ceil(len(others) / ncols)
    with figure(2.6 * nrows) as (fig, _):
        fig.clear()
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
        for ax, variant in zip(axes, others, strict=False):
            shared = sorted(seeds.get(variant, set()) & seeds.get(reference, set()))
            better = 0
            for seed in shared:
                ref, var = (
                    table.at[seed, name] if name in table else np.nan
                    for name in (reference, variant)
                )
                ends = [failed_at if np.isnan(v) else v for v in (ref, var)]
                gain = sign * (ends[1] - ends[0])
                better += gain > 0
                colour = STYLES[HELPS if gain > 0 else HURTS if gain < 0 else UNDECIDED].colour
                ax.plot([0, 1], ends, color=colour, alpha=0.75, lw=1.4, marker="o", ms=3.5)
                for x, v in zip((0, 1), (ref, var), strict=True):
                    if np.isnan(v):
                        ax.plot(x, failed_at, marker="x", color="0.1", ms=8, mew=2)
            ax.set_xticks([0, 1], [wrap(reference), "variant"])
            ax.set_xlim(-0.25, 1.25)
            ax.set_title(
                f"{wrap(variant)}\nbetter in {better} of {len(shared)} seeds", fontsize="small"
            )
        for ax in axes[len(others) :]:
            ax.set_visible(False)
        axes[0].set_ylabel(metric_label(metric))
        fig.suptitle(
            f"{metric_label(metric)} per seed, reference -> variant ({better_phrase(metric)}); "
            "green: variant better on that seed, orange: worse; x: failed seed",
            y=1.0,
        )
        fig.tight_layout()
        return to_png(fig)
