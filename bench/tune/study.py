"""Optuna studies on shared storage: samplers, pruners, heartbeats and the trial budget.

Each tuned variant has its own study in an RDB storage: SQLite under the results folder by
default, or any SQLAlchemy URL (PostgreSQL for many machines). Workers that open the same
storage and study name cooperate on one study, as Optuna's distributed optimisation intends
(Akiba et al. 2019, "Optuna: A Next-generation Hyperparameter Optimization Framework",
sec. 4). A worker records a heartbeat while its trial runs; a trial whose heartbeat stops
(the worker was killed) is failed by the next worker that looks and re-queued with the same
parameters (`RetryHeartbeatStaleTrialCallback`).

The budget `n_trials` counts finished trials (complete, pruned, or failed with an error) over
all workers and all runs, so re-running a command resumes the study and does the rest.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.samplers import BaseSampler
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from bench.config import JobConfig, TuneConfig
from bench.errors import BenchError, ConfigError
from bench.tune.space import Dimension

STORAGE_FILE = "optuna.db"
ERROR_ATTR = "error"
OVER_BUDGET_ATTR = "over_budget"
FINGERPRINT_ATTR = "gan_bench_fingerprint"


class TuneError(BenchError):
    """A study cannot be opened or used as asked (another space, no finished trial, ...)."""

    exit_code = 2


class BudgetSpent(Exception):
    """Raised inside a trial that another worker's trials have made one too many."""


def default_storage(results: str | Path, suite_name: str) -> str:
    """`sqlite:///<results>/<suite_name>/optuna.db` (absolute, so any working directory works)."""
    return f"sqlite:///{(Path(results) / suite_name / STORAGE_FILE).resolve()}"


def open_storage(url: str, tune: TuneConfig, attempts: int = 5) -> RDBStorage:
    """An RDB storage with heartbeats, so dead workers' trials are detected and retried.

    Workers that start at once on a new database race to create its tables; the losers see
    "already exists" errors and simply try again, finding the tables made.
    """
    from sqlalchemy.exc import IntegrityError, OperationalError

    if url.startswith("sqlite"):
        # Several processes share one SQLite file: wait for its lock instead of failing.
        engine: dict[str, Any] = {"connect_args": {"timeout": 60}}
    else:
        engine = {"pool_pre_ping": True}
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=dict(engine),
                    heartbeat_interval=tune.heartbeat_s,
                    grace_period=tune.grace_s,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(tune.max_retry),
                )
        except ImportError as err:
            raise TuneError(
                f"--storage {redact(url)}: its database driver is missing ({err}); for "
                "PostgreSQL: pip install 'gan-bench[postgres]'"
            ) from None
        except (IntegrityError, OperationalError) as err:
            last = err
            time.sleep(0.2 * (attempt + 1))
        except Exception as err:  # SQLAlchemy's other errors: a malformed URL, an unknown dialect
            raise TuneError(f"--storage {redact(url)}: cannot open it: {err}") from None
    raise TuneError(f"--storage {redact(url)}: cannot open it: {last}")


def redact(url: str) -> str:
    """The URL with any password replaced by `***` (safe to print and to record)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def base_sampler(tune: TuneConfig, seed: int) -> BaseSampler:
    """The configured Optuna sampler, seeded."""
    startup = tune.sampler_startup_trials
    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tune.sampler == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if tune.sampler == "cmaes":
        try:
            import cmaes  # noqa: F401 (Optuna's CMA-ES sampler needs it)
        except ImportError:
            raise ConfigError(
                "key 'tune.sampler' = 'cmaes' needs the cmaes package: pip install cmaes"
            ) from None
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)


class TrialSeededSampler(BaseSampler):
    """The configured sampler, rebuilt before each trial with a seed from (seed, trial number).

    A seeded sampler alone makes one process reproducible, but two workers with the same seed
    would propose the same parameters (Optuna FAQ, "How can I obtain reproducible
    optimization results?"). Seeding by trial number keeps a single-worker study reproducible
    and gives concurrent workers different proposals. TPE, random, GP and CMA-ES keep their
    search state in the study's trials, so nothing is lost by rebuilding.
    """

    def __init__(self, factory: Callable[[int], BaseSampler], seed: int) -> None:
        self._factory, self._seed = factory, seed
        self._inner = factory(seed)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        entropy = np.random.SeedSequence([self._seed, trial.number]).generate_state(1)[0]
        self._inner = self._factory(int(entropy))
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial):
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space):
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()


def build_pruner(tune: TuneConfig, config: JobConfig) -> optuna.pruners.BasePruner:
    """Median (Optuna's default rule) or Hyperband (Li et al. 2018) over evaluation steps."""
    if tune.pruner == "none":
        return optuna.pruners.NopPruner()
    if tune.pruner == "hyperband":
        every = config.eval.every or config.train.steps
        return optuna.pruners.HyperbandPruner(
            min_resource=every, max_resource=config.train.steps, reduction_factor=3
        )
    return optuna.pruners.MedianPruner(
        n_startup_trials=tune.pruner_startup_trials, n_warmup_steps=tune.pruner_warmup_steps
    )


def fingerprint(config: JobConfig, space: list[Dimension], tune: TuneConfig, seed: int) -> str:
    """What makes trials of one study comparable: the variant's config, space, metric, seed."""
    blob = json.dumps(
        {
            "config": config.model_dump(mode="json"),
            "space": {dim.key: dim.param.model_dump(mode="json") for dim in space},
            "metric": tune.metric,
            "seed": seed,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def open_study(
    storage: RDBStorage,
    name: str,
    tune: TuneConfig,
    config: JobConfig,
    mark: str,
) -> optuna.Study:
    """Create the study or join it; refuse one whose trials were run on another setup."""
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="minimize",
        load_if_exists=True,
        sampler=TrialSeededSampler(lambda seed: base_sampler(tune, seed), tune.seed),
        pruner=build_pruner(tune, config),
    )
    found = study.user_attrs.get(FINGERPRINT_ATTR)
    if found is None:
        study.set_user_attr(FINGERPRINT_ATTR, mark)
    elif found != mark:
        raise TuneError(
            f"study '{name}' already holds trials of another config, search space, metric or "
            "seed; give this search its own name with --study NAME"
        )
    return study


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """Complete, pruned, or failed by its own error (not a dead worker, not over budget)."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and ERROR_ATTR in trial.user_attrs


def budget_state(study: optuna.Study) -> tuple[int, int]:
    """(finished trials that count, trials running now), after failing dead workers' trials."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    finished = sum(counts_toward_budget(t) for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    return finished, running


def check_within_budget(trial: optuna.Trial, n_trials: int) -> None:
    """Raise `BudgetSpent` if earlier trials (finished or running) already fill the budget.

    Two workers may both see one slot left and both start a trial; the later-numbered one
    stops here before training, so a study never runs more than `n_trials` trials.
    """
    earlier = [
        t
        for t in trial.study.get_trials(deepcopy=False)
        if t.number < trial.number and (counts_toward_budget(t) or t.state == TrialState.RUNNING)
    ]
    if len(earlier) >= n_trials:
        trial.set_user_attr(OVER_BUDGET_ATTR, True)
        raise BudgetSpent(f"trial {trial.number}: the study already has {n_trials} trials")
