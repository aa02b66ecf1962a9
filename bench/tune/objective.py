"""One trial = one normal job: suggest parameters, train and score, report FID, maybe prune.

The objective is the metric (FID by default) of the generator at the end of training,
minimised. With `eval.every`, the metric at each evaluation point is reported to Optuna
(`trial.report`) and the pruner may stop a hopeless run there (`trial.should_prune`), which
ends the job with status "pruned" (Akiba et al. 2019, sec. 3: pruning on intermediate
values). The job lands in the results store under `<suite>.trials/<job-id>/` like any job,
with a `tuning` entry in its `result.json`: study, trial number, parameters, distributions.
A trial whose parameters equal a finished job's reuses that job's result (same config and
seed: same numbers) instead of training it again.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass
from typing import Any

import optuna
import torch
from optuna.distributions import distribution_to_json

from bench.atomic import atomic_write_json
from bench.config import JobConfig, TuneConfig
from bench.expand import Job
from bench.run.job.entry import record_failure
from bench.run.job.phases import run_job
from bench.run.store.results import RESULT_FILE, ResultsStore
from bench.train.loop import StopTraining
from bench.tune.space import Dimension, apply_params
from bench.tune.study import ERROR_ATTR, check_within_budget

JOB_ATTR = "job_id"


class JobFailed(Exception):
    """The trial's job raised; its traceback is in the job's `error.txt`."""


@dataclass(frozen=True)
class Target:
    """What one study tunes: a variant's resolved config, its search space, where jobs go."""

    suite: str
    variant: str
    seed: int
    config: JobConfig
    space: list[Dimension]
    factors: dict[str, str]
    capabilities: frozenset[str]
    study_name: str

    def job(self, params: dict[str, Any], suite: str, seed: int) -> Job:
        """The job that runs `params` on this variant (validated like any job)."""
        where = f"variant '{self.variant}' with {params}"
        config, tricks = apply_params(self.config, params, where, self.capabilities)
        return Job(suite, self.variant, seed, config, tricks, self.factors)


class Objective:
    """Optuna's objective for one target: returns the final metric, or prunes."""

    def __init__(
        self,
        target: Target,
        tune: TuneConfig,
        store: ResultsStore,
        device: torch.device,
        n_trials: int,
    ) -> None:
        self.target, self.tune, self.store, self.device = target, tune, store, device
        self.n_trials = n_trials

    def __call__(self, trial: optuna.Trial) -> float:
        check_within_budget(trial, self.n_trials)
        params = {dim.key: dim.suggest(trial) for dim in self.target.space}
        job = self.target.job(params, self.target.suite, self.target.seed)
        trial.set_user_attr(JOB_ATTR, job.id)
        finished = self.store.finished_record(job.suite, job.id)
        if finished is not None:
            return self.reuse(trial, job, finished)
        try:
            record = run_job(job, self.store, self.device, on_evaluation=self.pruning(trial))
        except Exception:
            path = record_failure(self.store, job)
            trial.set_user_attr(ERROR_ATTR, path)
            raise JobFailed(f"trial {trial.number}: job {job.id} failed; see {path}") from None
        value = self.value(record)
        pruned = record["status"] == "pruned"
        record["tuning"] = self.tuning_entry(trial, params, value, pruned)
        atomic_write_json(self.store.job_dir(job.suite, job.id) / RESULT_FILE, record)
        if pruned:
            raise optuna.TrialPruned(record["reason"])
        return value

    def pruning(self, trial: optuna.Trial):
        """The `on_evaluation` callback: report the metric; stop training when pruned."""
        metric = self.tune.metric

        def on_evaluation(step: int, metrics: dict[str, float]) -> None:
            value = metrics.get(metric)
            if value is None:
                return
            trial.report(value, step)
            if trial.should_prune():
                raise StopTraining(
                    "pruned",
                    f"pruned by the {self.tune.pruner} pruner at step {step} "
                    f"({metric} {value:.4g})",
                )

        return on_evaluation

    def reuse(self, trial: optuna.Trial, job: Job, record: dict[str, Any]) -> float:
        """Report a finished identical job's evaluations (`record`, its verified result) and
        return (or prune at) its end."""
        trial.set_user_attr("reused", True)
        for point in record.get("evaluations", []):
            step, value = point.get("step"), point.get(self.tune.metric)
            if step is not None and step < job.config.train.steps and value is not None:
                trial.report(value, int(step))
        if record.get("status") == "pruned":
            raise optuna.TrialPruned(f"same config as pruned job {job.id}: {record.get('reason')}")
        return self.value(record)

    def value(self, record: dict[str, Any]) -> float:
        """The metric at the end of training; +inf when there is none (non-finite output)."""
        value = record.get("metrics", {}).get(self.tune.metric)
        return float(value) if value is not None and math.isfinite(value) else math.inf

    def tuning_entry(
        self, trial: optuna.Trial, params: dict[str, Any], value: float, pruned: bool
    ) -> dict[str, Any]:
        """What `result.json` records about the trial (enough to redraw the study)."""
        return {
            "study": self.target.study_name,
            "trial": trial.number,
            "state": "pruned" if pruned else "complete",
            "metric": self.tune.metric,
            "value": value if math.isfinite(value) else None,
            "params": params,
            "distributions": {
                dim.key: distribution_to_json(dim.distribution()) for dim in self.target.space
            },
            "sampler": self.tune.sampler,
            "pruner": self.tune.pruner,
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        }
