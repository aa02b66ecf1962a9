"""Verdicts across the training budget: each comparison at every checkpoint, and the flag.

Every job scores G at checkpoints during training (`JobConfig.evaluation_steps`) and records
them in `result.json` (`evaluations`). The headline verdict is read at one step declared
before the run: the end of training, or `[suite] budget` (`jobs_at`). Beside it, each
comparison is analysed at every checkpoint with the headline's machinery
(`bench.report.verdicts.compare_variants`: paired exact test, bootstrap CI, the suite's
correction over its comparisons at that step, `decide`). These per-checkpoint verdicts are
descriptive: nothing is corrected over checkpoints, and they never replace the headline
(docs/statistics.md, "Verdicts across the training budget").

A comparison is **budget-sensitive** when the verdict at the headline step differs from its
verdict at any checkpoint in the last half of training (step >= half the steps), or, for a
headline that helps or hurts, its effect has the opposite sign there. Both sides of that
comparison come from the same fixed-design analysis, so a sequential suite's stage decisions
are compared like with like.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from bench.errors import ResultsError
from bench.metric_registry import comparable_metrics
from bench.report.comparison import UNSCORED_STATUSES
from bench.report.summary import signed
from bench.report.table import EVALUATIONS
from bench.report.verdicts import HELPS, HURTS, REFERENCE, compare_variants
from bench.stats.bootstrap import Interval
from bench.stats.corrections import Correction

CHECKPOINT_COLUMNS = ["step", "variant", "difference", "ci_low", "ci_high", "p_adjusted", "verdict"]
DESCRIPTIVE = (
    "descriptive: each checkpoint is analysed as the headline is, with no correction over "
    "checkpoints; the headline verdict is the one declared before the run"
)


def _points(cell: object) -> dict[int, dict]:
    """A job's `evaluations` cell (JSON) as {step: metrics}; none for a missing cell."""
    if not isinstance(cell, str):
        return {}
    return {int(point["step"]): point for point in json.loads(cell)}


def checkpoint_steps(jobs: pd.DataFrame) -> list[int]:
    """The steps at which every finished job of `jobs` was scored, ascending (none when the
    results predate checkpoints)."""
    if EVALUATIONS not in jobs:
        return []
    finished = jobs.loc[jobs["status"] == "ok", EVALUATIONS]
    common: set[int] | None = None
    for cell in finished:
        steps = set(_points(cell))
        common = steps if common is None else common & steps
    return sorted(common or ())


def jobs_at(jobs: pd.DataFrame, step: int) -> pd.DataFrame:
    """The jobs as they stood at `step`: a job scored there is a finished job with those
    metrics (whatever happened after); a job that diverged or failed before it stays a failed
    outcome; a job not scored there for another reason is left out."""
    found = [_points(cell).get(step) for cell in jobs[EVALUATIONS]]
    at = jobs.copy()
    scored_names = {name for point in found if point for name in point}
    for name in [m for m in comparable_metrics() if m in jobs or m in scored_names]:
        at[name] = [np.nan if p is None or p.get(name) is None else p[name] for p in found]
    scored = np.array([p is not None for p in found], dtype=bool)
    failed = ~jobs["status"].isin(["ok", *UNSCORED_STATUSES]).to_numpy()
    at.loc[scored, "status"] = "ok"
    return at[scored | failed]


def check_budget(jobs: pd.DataFrame, budget: int, suite: str) -> None:
    """A `[suite] budget` (suite.json, untrusted) must be a step every finished job scored."""
    steps = checkpoint_steps(jobs)
    if budget not in steps:
        scored = ", ".join(map(str, steps)) or "none (results from before checkpoints)"
        raise ResultsError(
            f"suite.json of suite '{suite}': budget = {budget!r}: not a checkpoint every "
            f"finished job was scored at; checkpoints: {scored}"
        )


def training_end(jobs: pd.DataFrame) -> int:
    """The last step every finished job was scored at: the end of training."""
    return max(checkpoint_steps(jobs), default=0)


def checkpoint_table(
    jobs: pd.DataFrame,
    metric: str,
    correction: Correction,
    interval: Interval,
    margin: float | None,
) -> pd.DataFrame:
    """Per checkpoint and comparison (`CHECKPOINT_COLUMNS`): the effect on `metric` with its
    95% CI, the adjusted p and the verdict of the headline's analysis at that step."""
    reference = jobs["reference_variant"].iloc[0]
    frames = []
    for step in checkpoint_steps(jobs):
        table = compare_variants(
            jobs_at(jobs, step),
            reference,
            metric,
            correction=correction,
            interval=interval,
            margin=margin,
        )
        frames.append(table[table["variant"] != reference].assign(step=step))
    if not frames:
        return pd.DataFrame(columns=CHECKPOINT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[CHECKPOINT_COLUMNS]


def effect_text(row: object) -> str:
    """`+5.01 [+4.92, +5.05]`: a checkpoint's effect and 95% CI, signed."""
    if math.isnan(row.difference):
        return "-"
    return f"{signed(row.difference)} [{signed(row.ci_low)}, {signed(row.ci_high)}]"


def sensitivity(checkpoints: pd.DataFrame, headline_step: int, end: int) -> dict[str, str]:
    """Per budget-sensitive variant, why: the late checkpoints whose verdict differs from the
    headline step's, or whose effect has the opposite sign of a helps / hurts there."""
    notes = {}
    for variant, rows in checkpoints.groupby("variant", sort=False):
        at = rows[rows["step"] == headline_step]
        if at.empty:
            continue
        verdict, effect = at["verdict"].iloc[0], at["difference"].iloc[0]
        late = rows[(2 * rows["step"] >= end) & (rows["step"] != headline_step)]
        changed = late["verdict"] != verdict
        if verdict in (HELPS, HURTS) and not math.isnan(effect) and effect != 0:
            changed |= np.sign(late["difference"]) == -np.sign(effect)
        differ = late[changed]
        if len(differ):
            shown = "; ".join(
                f"{row.verdict} at step {row.step} ({effect_text(row)})"
                for row in differ.itertuples()
            )
            notes[str(variant)] = (
                f"{verdict} at step {headline_step}, but {shown} (checkpoints are descriptive)"
            )
    return notes


def with_budget(
    headline: pd.DataFrame, checkpoints: pd.DataFrame, headline_step: int, end: int
) -> pd.DataFrame:
    """`headline` with the `budget_sensitive` flag (None for the reference) and, in
    `.attrs["budget"]`, the headline step, the end and every checkpoint's row."""
    notes = sensitivity(checkpoints, headline_step, end)
    table = headline.copy()
    table["budget_sensitive"] = [
        None if verdict == REFERENCE else variant in notes
        for variant, verdict in zip(table["variant"], table["verdict"], strict=True)
    ]
    table["budget_note"] = [notes.get(v, "") for v in table["variant"]]
    table.attrs = headline.attrs | {
        "budget": {
            "step": headline_step,
            "end": end,
            "checkpoints": checkpoints.to_dict("records"),
        }
    }
    return table


def checkpoint_frame(headline: pd.DataFrame) -> pd.DataFrame:
    """The per-checkpoint rows `with_budget` recorded (empty when there were none)."""
    budget = headline.attrs.get("budget") or {}
    return pd.DataFrame(budget.get("checkpoints") or [], columns=CHECKPOINT_COLUMNS)


def budget_text(headline: pd.DataFrame) -> str:
    """`Headline verdicts at step 300 of 300 (the end of training); ...` or '' without
    checkpoints."""
    budget = headline.attrs.get("budget")
    if not budget:
        return ""
    step, end = budget["step"], budget["end"]
    where = "the end of training" if step == end else "[suite] budget, declared in advance"
    steps = sorted({row["step"] for row in budget["checkpoints"]})
    return (
        f"Headline verdicts at step {step} of {end} ({where}); verdicts at the checkpoints "
        f"{', '.join(map(str, steps))} are {DESCRIPTIVE}."
    )


def budget_display(headline: pd.DataFrame) -> pd.DataFrame:
    """One row per variant, one column per checkpoint: `hurts +1.4 [+1.1, +4.9]`, with the
    budget-sensitive flag (for the page's details and the Markdown)."""
    checkpoints = checkpoint_frame(headline)
    if checkpoints.empty:
        return pd.DataFrame()
    cells = checkpoints.assign(
        cell=[f"{row.verdict} {effect_text(row)}" for row in checkpoints.itertuples()]
    )
    shown = cells.pivot(index="variant", columns="step", values="cell")
    shown.columns = [f"step {step}" for step in shown.columns]
    flags = dict(zip(headline["variant"], headline["budget_sensitive"], strict=True))
    shown["budget-sensitive"] = ["yes" if flags.get(v) else "" for v in shown.index]
    return shown.reset_index()
