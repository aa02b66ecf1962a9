"""Plan a tuning run: load the suite, pick the variants, check the space and the budgets.

Everything a user can get wrong is refused here, before any trial starts, with a message
naming the file, the key and what is allowed.

Equal budgets (Lucic et al. 2018, "Are GANs Created Equal?"): every tuned variant has the
same step budget (`train.steps`, which cannot be searched) and the same number of trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.config import Suite, TuneConfig
from bench.data import dataset_capabilities
from bench.errors import ConfigError
from bench.expand import Job, plan_suite, reference_variant
from bench.metric_registry import metric
from bench.tune.objective import Target
from bench.tune.space import check_bounds, check_space, variant_space
from bench.tune.study import default_storage

TRIALS_SUFFIX = ".trials"


@dataclass
class TunePlan:
    """A validated tuning run: the suite, its `[tune]`, one target per tuned variant."""

    suite: Suite
    suite_path: Path
    overrides: list[str]
    tune: TuneConfig
    n_trials: int
    targets: list[Target]
    storage_url: str


def trials_suite(suite: Suite) -> str:
    return suite.suite.name + TRIALS_SUFFIX


def plan_tuning(
    path: str | Path,
    overrides: list[str] | None = None,
    variants: list[str] | None = None,
    all_variants: bool = False,
    n_trials: int | None = None,
    storage: str | None = None,
    study: str | None = None,
    results: str | Path = "results",
) -> TunePlan:
    """Load the suite and check everything before any trial starts (raises `ConfigError`)."""
    path = Path(path)
    suite, jobs = plan_suite(path, overrides)
    where = str(path)
    if suite.tune is None:
        raise ConfigError(
            f"{where}: no [tune] table; add one with a search space, e.g. [tune.params] "
            '"train.lr_d" = { type = "float", low = 1e-5, high = 1e-3, log = true }'
        )
    tune = suite.tune
    check_space(tune, where)
    if variants and all_variants:
        raise ConfigError("--variant and --all-variants: give one or the other")
    known = list(dict.fromkeys(job.variant for job in jobs))
    chosen = known if all_variants else list(dict.fromkeys(variants or [reference_variant(suite)]))
    for name in chosen:
        if name not in known:
            raise ConfigError(f"--variant '{name}': no such variant in {where}; variants: {known}")
    seed = suite.suite.seed_list[0]
    prefix = study or suite.suite.name
    targets = [
        plan_target(suite, tune, job, where, f"{prefix}.{job.variant}")
        for job in jobs
        if job.seed == seed and job.variant in chosen
    ]
    check_equal_budgets(targets, where)
    check_tricks_used(jobs, tune, where)
    url = storage or default_storage(results, trials_suite(suite))
    count = tune.n_trials if n_trials is None else n_trials
    if count < 0:
        raise ConfigError(f"--n-trials {count}: expected 0 or more")
    return TunePlan(suite, path, list(overrides or []), tune, count, targets, url)


def plan_target(suite: Suite, tune: TuneConfig, job: Job, where: str, study: str) -> Target:
    """One variant's target, with its space checked against its config."""
    config = job.config
    capabilities = dataset_capabilities(config.data.name, config.data.root)
    space = variant_space(tune, config)
    check_bounds(space, config, where, job.variant, capabilities)
    if metric(tune.metric).request not in config.eval.metrics:
        raise ConfigError(
            f"{where}: key 'tune.metric' = '{tune.metric}': variant '{job.variant}' does not "
            f"compute it (eval.metrics = {list(config.eval.metrics)}); add it there"
        )
    if tune.pruner != "none" and config.eval.every is None:
        raise ConfigError(
            f"{where}: key 'tune.pruner' = '{tune.pruner}' needs scores during training: set "
            "base.eval.every (a multiple of train.log_every), or pruner = 'none'"
        )
    return Target(
        trials_suite(suite), job.variant, job.seed, config, space, job.factors, capabilities, study
    )


def check_equal_budgets(targets: list[Target], where: str) -> None:
    """Every tuned variant trains for the same number of steps."""
    steps = {t.variant: t.config.train.steps for t in targets}
    if len(set(steps.values())) > 1:
        raise ConfigError(
            f"{where}: tuned variants have different train.steps {steps}; equal budgets need "
            "one value: drop train.steps from [variants.NAME].set"
        )


def check_tricks_used(jobs: list[Job], tune: TuneConfig, where: str) -> None:
    """A searched trick parameter must belong to a trick some variant of the suite enables."""
    enabled = {trick for job in jobs for trick in job.config.tricks}
    for key in tune.params:
        parts = key.split(".")
        if parts[0] == "tricks" and parts[1] not in enabled:
            raise ConfigError(
                f"{where}: key 'tune.params.{key}': no variant enables trick '{parts[1]}' "
                f"(enabled: {', '.join(sorted(enabled)) or 'none'})"
            )
