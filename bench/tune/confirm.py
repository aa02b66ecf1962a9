"""`bench tune --confirm K`: re-run each variant's best trial with K fresh seeds as normal jobs.

The best of N trials is an optimistic estimate: it won a race on one seed. Lucic et al.
(2018), "Are GANs Created Equal?", compare models at their best hyperparameters re-run over
several seeds instead. The confirmation jobs form the suite `<suite>.tuned` (design
"variants"), so `bench report --suite <suite>.tuned` compares the variants at their tuned
best, with confidence intervals over seeds that were never used for tuning.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import FrozenTrial

from bench.expand import Job, reference_variant, with_revision
from bench.run.preflight import preflight
from bench.run.store.definition import record_definition
from bench.run.store.results import ResultsStore
from bench.run.suite import RunOptions, RunSummary, run_jobs, suite_metadata
from bench.tune.plan import TunePlan
from bench.tune.study import TuneError

TUNED_SUFFIX = ".tuned"


def fresh_seeds(trial_seed: int, count: int) -> list[int]:
    """`count` seeds after the one the trials trained with."""
    return list(range(trial_seed + 1, trial_seed + 1 + count))


def best_trials(plan: TunePlan, studies: dict[str, optuna.Study]) -> dict[str, FrozenTrial]:
    """Each tuned variant's best complete trial; a `TuneError` if one has none yet."""
    best = {}
    for target in plan.targets:
        try:
            best[target.variant] = studies[target.variant].best_trial
        except ValueError:
            raise TuneError(
                f"variant '{target.variant}': study '{target.study_name}' has no complete "
                "trial yet; run more trials before --confirm or --export"
            ) from None
    return best


def tuned_jobs(plan: TunePlan, best: dict[str, FrozenTrial], seeds: list[int]) -> list[Job]:
    """Every tuned variant at its best parameters, once per seed, in `<suite>.tuned`."""
    name = plan.suite.suite.name + TUNED_SUFFIX
    return [
        target.job(best[target.variant].params, name, seed)
        for target in plan.targets
        for seed in seeds
    ]


def tuned_reference(plan: TunePlan) -> str:
    """The suite's reference variant if it was tuned, else the first tuned variant."""
    reference = reference_variant(plan.suite)
    tuned = [t.variant for t in plan.targets]
    return reference if reference in tuned else tuned[0]


def run_confirmation(
    plan: TunePlan,
    studies: dict[str, optuna.Study],
    count: int,
    store: ResultsStore,
    device: str,
    progress: bool,
) -> RunSummary:
    """Run (or resume) the confirmation jobs and record where their parameters came from."""
    best = best_trials(plan, studies)
    seeds = fresh_seeds(plan.targets[0].seed, count)
    jobs = with_revision(tuned_jobs(plan, best, seeds), "variants", tuned_reference(plan))
    meta: dict[str, Any] = {
        **suite_metadata(plan.suite, plan.suite_path, plan.overrides),
        "name": plan.suite.suite.name + TUNED_SUFFIX,
        "design": "variants",
        "reference_variant": tuned_reference(plan),
        "seeds": seeds,
        "tuned_from": {
            variant: {
                "study": studies[variant].study_name,
                "trial": trial.number,
                "value": trial.value,
                "params": trial.params,
            }
            for variant, trial in best.items()
        },
    }
    preflight(jobs, plan.suite_path)
    record_definition(store, meta, jobs)
    return run_jobs(jobs, store, RunOptions(device=device, progress=progress))
