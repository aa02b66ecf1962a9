"""The report at a glance: the short verdict table, a sentence for each verdict that is not
plain, the one-line method, a suite's line in the index, and the per-seed differences the
forest plot draws.

The same short table leads the HTML page, the Markdown and the CSV (`bench report --format`).
Optional columns appear only when the comparison data carry them: `expected` / `agreement`
(the suite's `[expect]`), `budget-sensitive` (a `budget_sensitive` field), `paired across
machines` (a `machine_split` field naming seeds whose two sides ran on different machine
classes, `bench.report.machines`), and the forest plot's band (a `margin` field).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.metric_registry import comparable_metrics
from bench.report.comparison import outcomes, paired_seeds
from bench.report.reliability import marked
from bench.report.verdict_style import EQUIVALENT, HELPS, HURTS, is_decided
from bench.report.verdicts import REFERENCE, better_phrase, direction, metric_label
from bench.stats.bootstrap import INTERVALS
from bench.stats.corrections import CORRECTIONS

PLAIN = (HELPS, HURTS, EQUIVALENT, REFERENCE)


def number(value: float) -> str:
    """A metric value for people: 4 significant digits, no exponent below 1e4, '-' if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def difference_text(row: pd.Series) -> str:
    """`-10.2 [-11.4, -8.9]`: the difference (paired: median of per-seed ones) and its 95% CI."""
    if pd.isna(row["difference"]):
        return "-"
    return f"{number(row['difference'])} [{number(row['ci_low'])}, {number(row['ci_high'])}]"


def effect_column(headline: pd.DataFrame) -> str:
    """`FID effect [95% CI]`: the short table's effect column, named after the metric (and
    marked `(UNRELIABLE)` when its backbone is near chance: `bench.report.reliability`)."""
    name = headline.attrs["metric"]
    return marked(f"{metric_label(name)} effect [95% CI]", name, headline)


def short_table(headline: pd.DataFrame) -> pd.DataFrame:
    """The verdict table under the forest plot: variant, effect [CI], verdict, seeds,
    P(improvement), adjusted p; expected and agreement where the suite has `expect`;
    budget-sensitive where the comparison data say so."""
    shown = pd.DataFrame(
        {
            "variant": headline["variant"],
            effect_column(headline): headline.apply(difference_text, axis=1),
            "verdict": headline["verdict"],
            "seeds": headline["seeds"].astype(str),
            "P(improvement)": headline["p_improvement"].map(number),
            "adjusted p": headline["p_adjusted"].map(number),
        }
    )
    if "expected" in headline and headline["expected"].astype(bool).any():
        shown["expected"] = headline["expected"]
        shown["agreement"] = headline["agreement"]
    if "budget_sensitive" in headline:
        flags = headline["budget_sensitive"]
        shown["budget-sensitive"] = ["yes" if flagged(flag) else "" for flag in flags]
    if split_machines(headline).any():
        shown["paired across machines"] = [
            "weaker pairing" if text else "" for text in split_machines(headline)
        ]
    return shown


def split_machines(headline: pd.DataFrame) -> pd.Series:
    """Each row's `machine_split` text ('' where none, or no such column)."""
    if "machine_split" not in headline:
        return pd.Series("", index=headline.index)
    return headline["machine_split"].fillna("").astype(str)


def short_csv(headline: pd.DataFrame) -> pd.DataFrame:
    """The short table's columns first, as shown, then every column of `headline` that the
    short table does not already carry under the same name (machine-readable numbers)."""
    short = short_table(headline)
    rest = headline[[c for c in headline.columns if c not in short.columns]]
    return pd.concat([short, rest], axis=1)


def flagged(value: object) -> bool:
    """A `budget_sensitive` cell that is set (True, numpy's True, 1); missing is not."""
    return bool(pd.notna(value) and value)


def is_plain(row: pd.Series) -> bool:
    """A verdict that needs no sentence: helps, hurts, equivalent (or the reference) with no
    failed seed, no seed paired across machine classes and nothing added to its reason."""
    if row["verdict"] == REFERENCE:
        return not row["reason"]
    sensitive = flagged(row.get("budget_sensitive"))
    split = bool(row.get("machine_split"))
    return row["verdict"] in PLAIN and row["diverged"] == 0 and not sensitive and not split


def reasons(headline: pd.DataFrame) -> list[str]:
    """`variant (verdict): reason.` for each row that is not a plain verdict."""
    lines = []
    for _, row in headline.iterrows():
        if not is_plain(row):
            reason = str(row["reason"]).rstrip(".")
            if flagged(row.get("budget_sensitive")):
                note = row.get("budget_note")
                detail = f": {note}" if isinstance(note, str) and note else ""
                reason += f"; the verdict changes with the training budget{detail}"
            if row.get("machine_split"):
                reason += f"; {row['machine_split']}"
            lines.append(f"{row['variant']} ({row['verdict']}): {reason}.")
    return lines


def methods_line(headline: pd.DataFrame, reference: str) -> str:
    """The analysis in one line: metric and direction, design, correction, interval, floor,
    exploratory; the methods section at the end has the rest."""
    attrs = headline.attrs
    metric = attrs["metric"]
    analyses = "; ".join(sorted(set(headline["analysis"].dropna()))) or "no test ran"
    text = (
        f"{metric_label(metric)}, {better_phrase(metric)}; {analyses} against {reference}; "
        f"{CORRECTIONS[attrs['correction']]} over {attrs['comparisons']} comparisons; "
        f"{INTERVALS[attrs['interval']]} 95% CIs."
    )
    if attrs["comparisons"] and attrs["floor"] >= attrs["alpha"]:
        text += (
            f" With these seeds the adjusted p cannot go below {attrs['floor']:.2g}: "
            "the design cannot reach a verdict."
        )
    budget = attrs.get("budget")
    if budget:
        step, end = budget["step"], budget["end"]
        text += f" Verdicts at step {step} of {end}" + (
            " (the end of training)." if step == end else " ([suite] budget, declared in advance)."
        )
    if attrs["exploratory"]:
        text += f" EXPLORATORY suite: {attrs['exploratory']}"
    return text


def index_line(headline: pd.DataFrame) -> str:
    """The suite's decided tricks: `smoothing hurts (+3.05 FID); noisy_labels equivalent
    within ±1 FID; 1 undecided`."""
    label = metric_label(headline.attrs["metric"])
    decided, undecided = [], 0
    for _, row in headline[headline["verdict"] != REFERENCE].iterrows():
        if not is_decided(row["verdict"]):
            undecided += 1
        elif row["verdict"] == EQUIVALENT:
            margin = row.get("margin")
            within = f" within ±{number(margin)} {label}" if pd.notna(margin) else ""
            decided.append(f"{row['variant']} equivalent{within}")
        else:
            decided.append(
                f"{row['variant']} {row['verdict']} ({signed(row['difference'])} {label})"
            )
    if undecided:
        decided.append(f"{undecided} undecided")
    return "; ".join(decided) or "no variant against the reference"


def signed(value: float) -> str:
    """`+3.05`, `-1.2`, `+∞`: a difference with its sign."""
    return ("+" if value > 0 else "") + number(value)


def seed_differences(jobs: pd.DataFrame, headline: pd.DataFrame) -> pd.DataFrame:
    """Per variant and seed, the difference the forest plot draws as a dot: variant minus
    reference on the headline's metric for the same seed where the comparison was paired,
    else the seed minus the reference's median. A failed seed is ±inf (its worse side).

    Columns: variant, seed, difference, paired.
    """
    metric = headline.attrs["metric"]
    reference = jobs["reference_variant"].iloc[0]
    metrics = [m for m in comparable_metrics() if m in jobs]
    by_variant = outcomes(jobs, metric, direction(metric), metrics)
    ref = by_variant.get(reference)
    rows = []
    for variant, mine in by_variant.items():
        if variant == reference or ref is None or not len(ref):
            continue
        shared = paired_seeds(mine, ref)
        if shared is not None:  # paired on the seeds both sides have
            mine_on, ref_on = mine.on(shared), ref.on(shared)
            with np.errstate(invalid="ignore"):
                diffs = np.nan_to_num(
                    mine_on.by_seed() - ref_on.by_seed(), nan=0.0, posinf=math.inf, neginf=-math.inf
                )
            seeds, paired = np.sort(mine_on.seeds), True
        else:
            with np.errstate(invalid="ignore"):
                diffs = mine.values - np.median(ref.values)
            seeds, paired = mine.seeds, False
        rows += [
            {"variant": variant, "seed": int(s), "difference": float(d), "paired": paired}
            for s, d in zip(seeds, diffs, strict=True)
        ]
    return pd.DataFrame(rows, columns=["variant", "seed", "difference", "paired"])
