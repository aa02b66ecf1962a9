"""`bench tune`: run the trials of every tuned variant's study, then confirm and export.

Variants take turns trial by trial until each study has `n_trials` finished trials, so all
variants get the same budget and a `--timeout` cuts them at the same point (Lucic et al.
2018). Trials are jobs of the suite `<suite>.trials` (`results/<suite>.trials/<job-id>/`),
next to the default storage `results/<suite>.trials/optuna.db`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState
from tqdm import tqdm

from bench.design import design_floor, require_reachable
from bench.errors import ConfigError
from bench.run.job.device import resolve_device
from bench.run.preflight import preflight
from bench.run.store.results import ResultsStore
from bench.run.suite import Interrupted, RunSummary, suite_metadata
from bench.tune.confirm import run_confirmation
from bench.tune.export import export_suite
from bench.tune.objective import JobFailed, Objective, Target
from bench.tune.plan import TunePlan, plan_tuning, trials_suite
from bench.tune.study import (
    ERROR_ATTR,
    BudgetSpent,
    budget_state,
    fingerprint,
    open_storage,
    open_study,
    redact,
)

WAIT_POLL_S = 5.0


@dataclass
class VariantSummary:
    """Where one variant's study stands."""

    variant: str
    study: str
    complete: int
    pruned: int
    failed: int
    best: FrozenTrial | None


@dataclass
class TuneSummary:
    """How a `bench tune` call ended."""

    storage: str
    n_trials: int
    variants: list[VariantSummary]
    timed_out: bool = False
    confirmation: RunSummary | None = None
    exported: Path | None = None


def tune_suite(
    path: str | Path,
    overrides: list[str] | None = None,
    variants: list[str] | None = None,
    all_variants: bool = False,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    study: str | None = None,
    confirm: int = 0,
    export: str | Path | None = None,
    results: str | Path = "results",
    device: str = "auto",
    progress: bool = True,
) -> TuneSummary:
    """Tune the chosen variants to `n_trials` finished trials each; then confirm and export.

    Several processes may run this at once on one storage: they share the studies. Optuna's
    own per-trial log lines are silenced: the progress bar and the summary say the same.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if confirm < 0:
        raise ConfigError(f"--confirm {confirm}: expected a number of fresh seeds, 0 or more")
    plan = plan_tuning(path, overrides, variants, all_variants, n_trials, storage, study, results)
    if confirm:
        tuned = design_floor(plan.suite, seeds=confirm, comparisons=len(plan.targets) - 1)
        require_reachable(tuned, str(path), what="--confirm")
    store = ResultsStore(results)
    run_device = resolve_device(device)
    preflight((target.job({}, target.suite, target.seed) for target in plan.targets), path)
    if storage is None:  # the default SQLite file lives in the trials suite's folder
        store.suite_dir(trials_suite(plan.suite)).mkdir(parents=True, exist_ok=True)
    rdb = open_storage(plan.storage_url, plan.tune)
    store.write_suite(trials_suite(plan.suite), trials_metadata(plan))
    studies = {
        t.variant: open_study(
            rdb,
            t.study_name,
            plan.tune,
            t.config,
            fingerprint(t.config, t.space, plan.tune, t.seed),
        )
        for t in plan.targets
    }
    timed_out = run_studies(plan, studies, store, run_device, timeout, progress)
    summary = TuneSummary(
        redact(plan.storage_url),
        plan.n_trials,
        [summarise(t, studies[t.variant]) for t in plan.targets],
        timed_out=timed_out,
    )
    if confirm:
        summary.confirmation = run_confirmation(plan, studies, confirm, store, device, progress)
    if export:
        summary.exported = export_suite(plan, studies, export, confirm or None)
    return summary


def run_studies(
    plan: TunePlan,
    studies: dict[str, optuna.Study],
    store: ResultsStore,
    device: torch.device,
    timeout: float | None,
    progress: bool,
) -> bool:
    """Run trials, variants taking turns, until every study has its budget; True on timeout.

    A worker whose studies are only waiting on other workers' running trials polls until
    they finish, or until their heartbeats lapse and it retries them itself.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    objectives = {
        t.variant: Objective(t, plan.tune, store, device, plan.n_trials) for t in plan.targets
    }
    pending = list(objectives)
    total = plan.n_trials * len(pending)
    bar = tqdm(total=total, desc="trials", unit="trial", disable=not progress)
    finished: dict[str, int] = {}
    try:
        while pending:
            started = False
            for variant in list(pending):
                if deadline is not None and time.monotonic() >= deadline:
                    return True
                finished[variant], running = budget_state(studies[variant])
                if finished[variant] >= plan.n_trials:
                    pending.remove(variant)
                elif finished[variant] + running < plan.n_trials:
                    studies[variant].optimize(
                        objectives[variant], n_trials=1, catch=(BudgetSpent, JobFailed)
                    )
                    started = True
            bar.update(min(sum(finished.values()), total) - bar.n)
            if pending and not started:
                time.sleep(min(WAIT_POLL_S, plan.tune.heartbeat_s))
    except KeyboardInterrupt:
        raise Interrupted(
            "interrupted: finished trials are kept in the study; run the same command again "
            "to do the rest"
        ) from None
    finally:
        bar.close()
    return False


def summarise(target: Target, study: optuna.Study) -> VariantSummary:
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    return VariantSummary(
        target.variant,
        target.study_name,
        len(complete),
        sum(t.state == TrialState.PRUNED for t in trials),
        sum(t.state == TrialState.FAIL and ERROR_ATTR in t.user_attrs for t in trials),
        min(complete, key=lambda t: t.value) if complete else None,
    )


def trials_metadata(plan: TunePlan) -> dict[str, Any]:
    """`results/<suite>.trials/suite.json`: the source suite plus how it is being tuned."""
    meta = suite_metadata(plan.suite, plan.suite_path, plan.overrides)
    return {
        **meta,
        "name": trials_suite(plan.suite),
        "design": "tune",
        "reference_variant": plan.targets[0].variant,
        "tuning": {
            "source_suite": plan.suite.suite.name,
            "storage": redact(plan.storage_url),
            "studies": {t.variant: t.study_name for t in plan.targets},
            "metric": plan.tune.metric,
            "sampler": plan.tune.sampler,
            "pruner": plan.tune.pruner,
            "n_trials": plan.n_trials,
            "trial_seed": plan.targets[0].seed,
        },
    }


def format_summary(summary: TuneSummary) -> str:
    """What `bench tune` prints: per variant, trials by state and the best trial."""
    lines = [f"storage: {summary.storage}"]
    for v in summary.variants:
        best = (
            f"best {v.best.value:.4g} (trial {v.best.number}) with {v.best.params}"
            if v.best
            else "no complete trial yet"
        )
        lines.append(
            f"{v.variant}: {v.complete} complete, {v.pruned} pruned, {v.failed} failed of "
            f"{summary.n_trials} (study '{v.study}'); {best}"
        )
    if summary.timed_out:
        lines.append("stopped by --timeout; run the same command again to do the rest")
    if summary.confirmation:
        c = summary.confirmation
        counts = ", ".join(f"{n} {s}" for s, n in sorted(c.statuses.items())) or "nothing new"
        lines.append(f"confirmation: {c.total} jobs, {c.skipped} already finished; {counts}")
    if summary.exported:
        lines.append(f"tuned suite written to {summary.exported}")
    return "\n".join(lines)
