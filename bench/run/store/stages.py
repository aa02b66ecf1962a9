"""`results/<suite>/stages.json`: the stage decisions of a sequential suite, with their basis.

One entry per suite revision (see `bench.run.store.definition`): the plan the decisions were made
under (stage seed counts and seeds, metric, alpha, spending, margin, the comparisons and the
reference) and, per stage run, what each open comparison was tested on (its seeds and the
job ids of both sides), the test results, and every comparison's state after the stage (the
stage-weighted p-values, the outcome and the stage that decided it). An interrupted run
resumes from this record to the same decisions; a run under another plan is refused, since
the error rates hold only for the plan fixed before the first stage. Written atomically
(`bench.atomic`); the file is untrusted input, read back field by field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json
from bench.errors import ConfigError, ResultsError
from bench.run.store.results import ResultsStore, read_json

STAGES_FILE = "stages.json"
PLAN_KEYS = (
    *("counts", "seeds", "metric", "alpha", "spending", "margin", "reference"),
    *("comparisons", "budget"),
)


def stages_path(store: ResultsStore, suite: str) -> Path:
    return store.suite_dir(suite) / STAGES_FILE


def read_stages(store: ResultsStore, suite: str) -> dict[str, Any]:
    """Every revision's record ({} when the suite has none); `ResultsError` naming the file
    when it is corrupt."""
    path = stages_path(store, suite)
    return read_json(path) if path.is_file() else {}


def revision_record(store: ResultsStore, suite: str, revision: str) -> dict[str, Any] | None:
    """The record of `revision`, or None; a `ResultsError` naming the file if it is malformed."""
    record = read_stages(store, suite).get(revision)
    if record is None:
        return None
    path = stages_path(store, suite)
    if not (
        isinstance(record, dict)
        and isinstance(record.get("plan"), dict)
        and isinstance(record.get("stages"), list)
        and all(
            isinstance(stage, dict) and isinstance(stage.get("stage"), int)
            for stage in record["stages"]
        )
    ):
        raise ResultsError(
            f"{path}: revision {revision}: not a record of stages (expected plan and stages); "
            "move the file away to decide the stages again from the finished jobs"
        )
    return record


def check_plan(record: dict[str, Any], plan: dict[str, Any], where: Path) -> None:
    """Refuse to continue decisions made under another plan (other stages, metric, margin...)."""
    for key in PLAN_KEYS:
        if record["plan"].get(key) != plan.get(key):
            raise ConfigError(
                f"{where}: the stages so far were decided with {key} = "
                f"{record['plan'].get(key)!r}, this run asks {plan.get(key)!r}; sequential "
                "error rates hold only for the plan fixed before the first stage: run the "
                "suite as it was, or into another --results folder"
            )


def record_stage(
    store: ResultsStore, suite: str, revision: str, plan: dict[str, Any], stage: dict[str, Any]
) -> dict[str, Any]:
    """Add `stage` to the revision's record and write the file atomically, unless another
    runner recorded that stage first: then its stage is kept and returned (both computed it
    from the same finished jobs)."""
    everything = read_stages(store, suite)
    record = everything.get(revision) or {"plan": plan, "stages": []}
    recorded = [s for s in record["stages"] if s.get("stage") == stage["stage"]]
    if recorded:
        return recorded[0]
    record["stages"] = [*record["stages"], stage]
    atomic_write_json(stages_path(store, suite), {**everything, revision: record})
    return stage


UNDECIDED = "undecided"


def stage_seeds(record: dict[str, Any]) -> dict[int, int]:
    """Stage number (1-based) -> the seeds it ran, for the recorded stages."""
    counts = record["plan"]["counts"]
    return {int(s["stage"]): int(counts[int(s["stage"]) - 1]) for s in record["stages"]}


def decision_rows(record: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per comparison after the last recorded stage: verdict, the stage and seeds that decided
    it (or the seeds run so far), the adjusted stage-weighted p-values; and the totals: stages
    run, whether the run is complete, the jobs run and the worst case (every variant at max).
    """
    plan, stages = record["plan"], record["stages"]
    counts, comparisons = list(plan["counts"]), list(plan["comparisons"])
    seeds_of = stage_seeds(record)
    last = stages[-1]["state"] if stages else {}
    tested_until = {name: 0 for name in comparisons}
    for stage in stages:
        for name in stage.get("tested", {}):
            tested_until[name] = max(tested_until.get(name, 0), seeds_of[int(stage["stage"])])
    rows = []
    for name in comparisons:
        state = last.get(name, {})
        decided_at = state.get("stage")
        rows.append(
            {
                "variant": name,
                "verdict": state.get("verdict", UNDECIDED),
                "stage": decided_at,
                "seeds": tested_until[name],
                "adjusted_p": state.get("adjusted"),
                "adjusted_p_equivalence": state.get("adjusted_equivalence"),
            }
        )
    reference_seeds = max(seeds_of.values(), default=0)
    used = reference_seeds + sum(tested_until.values())
    all_decided = all(row["stage"] is not None for row in rows)
    totals = {
        "stages_run": len(stages),
        "stages": len(counts),
        "complete": all_decided or len(stages) == len(counts),
        "jobs": used,
        "worst_case": (len(comparisons) + 1) * counts[-1],
        "max_seeds": counts[-1],
        "reference_seeds": reference_seeds,
    }
    return rows, totals
