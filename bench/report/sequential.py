"""The report of a sequential suite: which stage decided each comparison, on how many seeds,
and the jobs saved against running every comparison to `max`.

A sequential suite's verdicts are the stage decisions recorded in `stages.json`
(`bench.run.store.stages`), made by the stopping rule whose error rates hold under optional stopping
(`bench.stats.sequential`). The fixed-design test on all finished seeds is not: it would look
at data gathered because earlier looks were inconclusive. So on the metric the stages were
decided on, the headline's verdict and adjusted p are the sequential ones; the difference,
CI and P(improvement) beside them describe the finished seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import ResultsError
from bench.run.store.results import ResultsStore
from bench.run.store.selection import SuiteJobs
from bench.run.store.stages import decision_rows, revision_record
from bench.stats.sequential import SPENDINGS

STAGES_KEY = "stage_record"  # where a suite's meta carries its stage record to the report


def suite_metas(results_dir: str | Path, selections: list[SuiteJobs]) -> dict[str, dict]:
    """Each suite's suite.json, with its revision's stage record (if it has one) added."""
    store = ResultsStore(results_dir)
    metas = {}
    for selected in selections:
        meta = dict(selected.meta)
        revision = selected.revision or meta.get("revision")
        if revision and meta.get("stages"):
            record = revision_record(store, selected.suite, revision)
            meta[STAGES_KEY] = check_record(record, selected.suite)
        metas[selected.suite] = meta
    return metas


def stage_reason(row: dict, totals: dict) -> str:
    """`sequential: hurts at stage 1 of 3 (8 seeds), stage-weighted Holm-adjusted p = ...`."""
    adjusted = row["adjusted_p"]
    shown = "-" if adjusted is None else f"{adjusted:.2g}"
    if row["stage"] is not None:
        text = f"{row['verdict']} at stage {row['stage']} of {totals['stages']} "
        text += f"({row['seeds']} seeds)"
        if row["verdict"] == "equivalent":
            text += f", equivalence adjusted p = {row['adjusted_p_equivalence']:.2g}"
        else:
            text += f", adjusted p = {shown}"
    elif totals["complete"]:
        text = f"undecided after {row['seeds']} seeds (the most the suite allows), "
        text += f"adjusted p = {shown}"
    else:
        text = f"open after stage {totals['stages_run']} of {totals['stages']} "
        text += f"({row['seeds']} seeds; the run is not finished)"
    return (
        f"sequential: {text} (stage-weighted p-values, Holm over the comparisons; the CI "
        "describes the finished seeds)"
    )


def with_stage_verdicts(table: pd.DataFrame, record: dict, metric: str) -> pd.DataFrame:
    """`compare_variants`' table with the stage decisions as verdicts and adjusted p-values,
    when `metric` is the one the stages were decided on (else unchanged)."""
    if record is None or record["plan"].get("metric") != metric:
        return table
    rows, totals = decision_rows(record)
    by_variant = {row["variant"]: row for row in rows}
    table = table.copy()
    for i, variant in table["variant"].items():
        row = by_variant.get(variant)
        if row is None:
            continue
        table.loc[i, "verdict"] = row["verdict"]
        adjusted = row["adjusted_p"]
        table.loc[i, "p_adjusted"] = np.nan if adjusted is None else min(1.0, adjusted)
        earlier = table.loc[i, "reason"]
        table.loc[i, "reason"] = stage_reason(row, totals) + (f"; {earlier}" if earlier else "")
    return table


def stage_seeds(record: dict) -> dict[str, set[int]]:
    """Per variant, the seeds the recorded stages tested it on; the reference: all of them."""
    seeds: dict[str, set[int]] = {}
    for stage in record.get("stages", []):
        for variant, tested in stage["tested"].items():
            seeds.setdefault(variant, set()).update(tested["seeds"])
    seeds[record["plan"]["reference"]] = set().union(*seeds.values())
    return seeds


def stage_table(record: dict) -> pd.DataFrame:
    """Per comparison: the sequential verdict, the stage and seeds that decided it."""
    rows, totals = decision_rows(record)
    return pd.DataFrame(
        {
            "variant": [row["variant"] for row in rows],
            "verdict": [row["verdict"] for row in rows],
            "decided at stage": [
                "-" if row["stage"] is None else f"{row['stage']} of {totals['stages']}"
                for row in rows
            ],
            "seeds": [str(row["seeds"]) for row in rows],
        }
    )


def stage_summary(record: dict) -> str:
    """The stages run and the jobs they took against every comparison at `max`."""
    _, totals = decision_rows(record)
    plan = record["plan"]
    counts = ", ".join(map(str, plan["counts"]))
    spending = SPENDINGS.get(plan.get("spending"), plan.get("spending"))
    text = (
        f"Sequential seeds: stages of {counts} seeds ({spending} alpha spending, "
        f"alpha {plan['alpha']}, on {plan['metric']}); {totals['stages_run']} of "
        f"{totals['stages']} stages run. Jobs: {totals['jobs']} (the reference at "
        f"{totals['reference_seeds']} seeds, each comparison until decided)"
    )
    if totals["complete"]:
        saved = totals["worst_case"] - totals["jobs"]
        return text + (
            f", against {totals['worst_case']} to run every comparison to {totals['max_seeds']} "
            f"seeds: {saved} saved ({saved / totals['worst_case']:.0%})."
        )
    return text + f"; the run is not finished (worst case {totals['worst_case']} jobs)."


def check_record(record: dict | None, suite: str) -> dict | None:
    """A stage record fit to report, or a `ResultsError` naming the suite."""
    if record is None:
        return None
    try:
        decision_rows(record)
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ResultsError(
            f"suite {suite}: stages.json is malformed ({err!r}); move it away and run the "
            "suite again to decide its stages from the finished jobs"
        ) from None
    return record
