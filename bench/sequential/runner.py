"""Run a sequential suite stage by stage, stopping each comparison once it is decided.

Stage k runs the reference and the still-open comparisons on the first n_k seeds (the jobs
of a suite that expanded to every seed up to `max`), through the same runner as any suite
(`bench.run.suite.run_jobs`: claims, so several runners split each stage and train each job
once); every job of every stage is checked once, before the first stage
(`bench.run.preflight`, in `prepare_suite`). When a stage's jobs have all finished, its
tests (`bench.sequential.stage`) go into the decision rule
(`bench.stats.sequential.decide_stage`), and the stage is recorded with its basis in
`results/<suite>/stages.json` (`bench.run.store.stages`). A stage already recorded is not decided
again: an interrupted run, or a second runner, resumes to the same decisions. A stage with a
failed job stops the run (exit 1); running again retries the job and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ResultsError
from bench.expand import reference_variant
from bench.metric_registry import margins
from bench.run.store.stages import (
    UNDECIDED,
    check_plan,
    decision_rows,
    record_stage,
    revision_record,
    stages_path,
)
from bench.run.suite import PreparedSuite, RunOptions, RunSummary, prepare_suite, run_jobs
from bench.sequential.stage import StageData, stage_data
from bench.stats.sequential import (
    EQUIVALENT,
    LARGER,
    OPEN,
    SMALLER,
    Decisions,
    decide_stage,
    spending_weights,
)

HELPS, HURTS = "helps", "hurts"
WORDS = {EQUIVALENT: "equivalent", OPEN: UNDECIDED}


@dataclass
class SequentialSummary(RunSummary):
    """A `RunSummary` over every stage run, with the decisions and the jobs they took."""

    decisions: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    incomplete: str | None = None

    def describe(self) -> list[str]:
        """One line per comparison and one for the jobs, for `bench run`."""
        lines = []
        for row in self.decisions:
            if row["stage"] is not None:
                lines.append(
                    f"{row['variant']}: {row['verdict']} at stage {row['stage']} "
                    f"({row['seeds']} seeds)"
                )
            else:
                lines.append(f"{row['variant']}: {UNDECIDED} after {row['seeds']} seeds")
        totals = self.totals
        if totals:
            saved = totals["worst_case"] - totals["jobs"]
            lines.append(
                f"stages: {totals['stages_run']} of {totals['stages']}; jobs: {totals['jobs']} "
                f"of the worst case {totals['worst_case']}"
                + (f" ({saved} saved)" if totals["complete"] else " (not finished)")
            )
        if self.incomplete:
            lines.append(self.incomplete)
        return lines


def verdict_word(outcome: int, direction: int) -> str:
    """helps / hurts / equivalent / undecided for an outcome code on a metric's direction."""
    if outcome in (LARGER, SMALLER):
        return HELPS if (outcome == LARGER) == (direction > 0) else HURTS
    return WORDS[outcome]


def outcome_code(word: str, direction: int) -> int:
    if word in (HELPS, HURTS):
        return LARGER if (word == HELPS) == (direction > 0) else SMALLER
    return EQUIVALENT if word == "equivalent" else OPEN


def state_record(state: Decisions, names: list[str], direction: int, counts: list[int]) -> dict:
    """Each comparison's state after a stage, as stages.json holds it."""
    return {
        name: {
            "verdict": verdict_word(int(state.outcome[j]), direction),
            "stage": int(state.stage[j]) + 1 if state.stage[j] >= 0 else None,
            "seeds": counts[state.stage[j]] if state.stage[j] >= 0 else None,
            "q": float(state.q[j]),
            "sign": int(state.sign[j]),
            "q_equivalence": float(state.q_equivalence[j]),
            "adjusted": float(state.adjusted[j]),
            "adjusted_equivalence": float(state.adjusted_equivalence[j]),
        }
        for j, name in enumerate(names)
    }


def state_from(stage: dict, names: list[str], direction: int, where: Path) -> Decisions:
    """The decisions a recorded stage holds (`ResultsError`-free: bad records are refused)."""
    try:
        rows = [stage["state"][name] for name in names]
        return Decisions(
            np.array([float(r["q"]) for r in rows]),
            np.array([int(r["sign"]) for r in rows]),
            np.array([float(r["q_equivalence"]) for r in rows]),
            np.array([outcome_code(str(r["verdict"]), direction) for r in rows]),
            np.array([int(r["stage"]) - 1 if r["stage"] is not None else -1 for r in rows]),
            np.array([float(r["adjusted"]) for r in rows]),
            np.array([float(r["adjusted_equivalence"]) for r in rows]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ResultsError(
            f"{where}: stage {stage.get('stage')}: malformed record ({err!r}); move the file "
            "away to decide the stages again from the finished jobs"
        ) from None


def run_until_decided(
    path: str | Path,
    overrides: list[str] | None = None,
    results: str | Path = "results",
    warn: Callable[[str], None] | None = None,
    max_jobs: int | None = None,
    **options: Any,
) -> RunSummary:
    """`bench.run.suite.run_suite` (same arguments), and for a sequential suite its stages
    (`run_stages`)."""
    prepared = prepare_suite(path, overrides, results, RunOptions(**options), warn, max_jobs)
    if prepared.stages is None:
        return run_jobs(prepared.jobs, prepared.store, prepared.options)
    return run_stages(prepared)


def run_stages(prepared: PreparedSuite) -> SequentialSummary:
    """Run the stages of a prepared sequential suite until every comparison is decided or the
    last stage is done (see the module docstring)."""
    suite, store, stages = prepared.suite, prepared.store, prepared.stages
    name, jobs = suite.suite.name, prepared.jobs
    reference = reference_variant(suite)
    names = [v for v in dict.fromkeys(job.variant for job in jobs) if v != reference]
    revision, counts = jobs[0].revision, list(stages.counts)
    weights = spending_weights(counts, stages.spending, stages.alpha)
    plan = {
        "counts": counts,
        "seeds": list(stages.seeds),
        "metric": suite.suite.primary_metric,
        "alpha": stages.alpha,
        "spending": stages.spending,
        "margin": margins(suite.suite.margin),
        "budget": suite.suite.budget,
        "reference": reference,
        "comparisons": names,
    }
    record = revision_record(store, name, revision)
    file = stages_path(store, name)
    if record is not None:
        plan["metric"] = plan["metric"] or record["plan"].get("metric")
        check_plan(record, plan, file)
    recorded = {s["stage"]: s for s in (record or {}).get("stages", [])}
    state = Decisions.start((len(names),))
    summary, staged = SequentialSummary(0, 0), set()
    for stage, n in enumerate(counts):
        open_names = [v for v, outcome in zip(names, state.outcome, strict=True) if outcome == OPEN]
        if not open_names:
            break
        if stage + 1 in recorded:
            direction = int(recorded[stage + 1].get("direction", -1))
            state = state_from(recorded[stage + 1], names, direction, file)
            continue
        seeds = set(stages.seeds[:n])
        todo = [j for j in jobs if j.seed in seeds and j.variant in {reference, *open_names}]
        run = run_jobs(todo, store, prepared.options)
        staged |= {job.id for job in todo}
        _add(summary, run)
        if run.failed:
            summary.incomplete = (
                f"stage {stage + 1} is not decided: {len(run.failed)} of its jobs failed; run "
                "the suite again to retry them and decide the stage"
            )
            break
        data = stage_data(
            store.root,
            name,
            reference,
            open_names,
            sorted(seeds),
            suite.suite.primary_metric,
            margins(suite.suite.margin),
            suite.suite.budget,
        )
        if data.missing:
            summary.incomplete = (
                f"stage {stage + 1} is not decided: no finished result of this code for "
                + ", ".join(data.missing[:5])
                + (" ..." if len(data.missing) > 5 else "")
                + " (results of other code are rerun with --rerun-stale)"
            )
            break
        plan["metric"] = data.metric
        if record is not None:
            check_plan(record, plan, file)
        state = _decide(state, stage, weights[stage], names, data, stages.alpha)
        entry = {
            "stage": stage + 1,
            "seeds": n,
            "direction": data.direction,
            "tested": {v: test.record() for v, test in data.tests.items()},
            "state": state_record(state, names, data.direction, counts),
        }
        kept = record_stage(store, name, revision, plan, entry)
        if kept is not entry:  # another runner decided this stage first
            state = state_from(kept, names, int(kept.get("direction", -1)), file)
        record = revision_record(store, name, revision)
    summary.total = len(staged)  # each job once, however many stages it was part of
    summary.skipped = summary.total - sum(summary.statuses.values())
    record = revision_record(store, name, revision)
    if record is not None:
        summary.decisions, summary.totals = decision_rows(record)
    return summary


def _decide(
    state: Decisions, stage: int, weight: float, names: list[str], data: StageData, alpha: float
) -> Decisions:
    """The stage's tests as arrays over every comparison (decided ones are ignored)."""
    pvalue, sign, equivalence = np.ones(len(names)), np.zeros(len(names), int), np.ones(len(names))
    for j, variant in enumerate(names):
        test = data.tests.get(variant)
        if test is not None:
            pvalue[j], sign[j], equivalence[j] = test.pvalue, test.sign, test.equivalence_pvalue
    return decide_stage(state, stage, weight, pvalue, sign, equivalence, alpha)


def _add(summary: SequentialSummary, run: RunSummary) -> None:
    summary.statuses.update(run.statuses)
    summary.failed += run.failed
    summary.stale = max(summary.stale, run.stale)  # later stages rescan earlier jobs
    summary.rerun_stale = run.rerun_stale
    summary.notes += run.notes
    summary.threads = run.threads if run.threads is not None else summary.threads


run_suite = run_until_decided  # the public `bench.run_suite`: any suite, sequential or not
