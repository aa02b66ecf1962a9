"""Nightly trends: every figure tracked by `bench regress --history`, over runs, regressions marked.

`bench report` adds this section when the results folder holds `regress-history.jsonl`
(`HISTORY_FILE`; the nightly workflow passes `--history <results>/regress-history.jsonl`).
The history's lines are documented in `bench.regress.history`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

from bench.errors import ResultsError
from bench.metric_registry import metric, regressed_metrics
from bench.report import markup, plots

HISTORY_FILE = "regress-history.jsonl"
TRACKED = {
    **{name: (metric(name).label, metric(name).better) for name in regressed_metrics()},
    "steps_per_s": ("training steps/s", "higher is better"),
    "failed_seeds": ("seeds not ok", "fewer is better"),
}


def load_history(path: str | Path, suites: list[str] | None = None) -> pd.DataFrame | None:
    """The history lines of `suites` (default: all) with `when` (datetime) and `series` (the
    variant, prefixed by its suite when there are several), or None without a history file."""
    path = Path(path)
    if not path.is_file() or not path.read_text().strip():
        return None
    try:
        history = pd.read_json(path, lines=True, dtype=False)
    except ValueError as err:
        raise ResultsError(f"{path}: not a JSON-lines history file: {err}") from None
    if suites:
        history = history[history["suite"].isin(suites)]
    history = history.assign(
        when=pd.to_datetime(history["recorded_at"], utc=True, format="ISO8601")
    )
    several = history["suite"].nunique() > 1
    series = history["suite"] + "/" + history["variant"] if several else history["variant"]
    return history.assign(series=series).sort_values(["when", "series"], ignore_index=True)


def trend_plot(history: pd.DataFrame, figure: str) -> bytes | None:
    """`figure` per run and variant (solid), its baseline (dashed), regressions (black X)."""
    rows = history[history["figure"] == figure].dropna(subset=["value"])
    if rows.empty:
        return None
    label, phrase = TRACKED.get(figure, (figure, ""))
    order = sorted(rows["series"].unique())
    colours = plots.palette(order)
    with plots.figure(3.2) as (fig, (ax,)):
        common = {"hue": "series", "hue_order": order, "palette": colours, "ax": ax}
        sns.lineplot(data=rows, x="when", y="value", marker="o", **common)
        sns.lineplot(
            data=rows, x="when", y="baseline", linestyle="--", linewidth=1, legend=False, **common
        )
        flagged = rows[rows["regressed"].astype(bool)]
        ax.scatter(
            flagged["when"],
            flagged["value"],
            marker="X",
            s=110,
            color="black",
            zorder=5,
            label="regression",
        )
        locator = AutoDateLocator()
        ax.xaxis.set(major_locator=locator, major_formatter=ConciseDateFormatter(locator))
        ax.set(xlabel="run finished (UTC)", ylabel=label)
        ax.set_title(f"{label} per nightly run ({phrase}); dashed: baseline; black X: regression")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
        return plots.to_png(fig)


def regressions_table(history: pd.DataFrame) -> pd.DataFrame:
    """Every flagged figure: when, at which commit, how far from the baseline."""
    flagged = history[history["regressed"].astype(bool)]
    return pd.DataFrame(
        {
            "run finished": flagged["when"].dt.strftime("%Y-%m-%d %H:%M"),
            "commit": flagged["commit"].fillna("unknown").str[:10],
            "variant": flagged["series"],
            "figure": flagged["figure"],
            "baseline": flagged["baseline"].map("{:.4g}".format),
            "run": flagged["value"].map("{:.4g}".format),
            "change [CI]": [
                "-" if pd.isna(c) else f"{c:+.1%} [{lo:+.1%}, {hi:+.1%}]"
                for c, lo, hi in flagged[["change", "ci_low", "ci_high"]].itertuples(index=False)
            ],
        }
    )


def trends_section(path: str | Path, suites: list[str] | None = None) -> markup.Markup:
    """The report's "Nightly trends" section, or "" without a history file."""
    history = load_history(path, suites)
    if history is None or history.empty:
        return markup.Markup()
    runs = history["recorded_at"].nunique()
    note = (
        f"{runs} nightly runs recorded by `bench regress --history` in {path}. Each point is the "
        "median over seeds of one variant in one run; a black X marks a check that failed "
        "(the bootstrap CI of the change lay beyond the baseline file's tolerance)."
    )
    regressions = regressions_table(history)
    listed = (
        markup.table(regressions)
        if len(regressions)
        else markup.paragraph("No check failed in any recorded run.", "note")
    )
    parts = [
        markup.paragraph(note, "note"),
        *(markup.figure(trend_plot(history, f), f"{f} per nightly run") for f in TRACKED),
        markup.section("Regressions", [listed], level=3),
    ]
    return markup.section("Nightly trends", parts, anchor="trends")
