"""One job end to end, in four phases: load its data, train, score, write its files (result last).

`run_job` runs them to the end; `job_steps` is the same run one training iteration per
`next()`, for packed runs. Scoring lives in `bench.run.job.scoring`, the record's provenance in
`bench.provenance`, the job's files in `bench.run.store.results`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from bench.atomic import atomic_write_bytes, atomic_write_json
from bench.components import plugins_used
from bench.data import Dataset, load_dataset
from bench.data.subset import training_subset
from bench.expand import Job
from bench.metric_registry import comparable_metrics, metric
from bench.provenance import device_name, fingerprint, versions
from bench.run.job.cpu_time import CpuClock
from bench.run.job.device import deterministic_kernels
from bench.run.job.sample_figures import (
    INTERPOLATION_FILE,
    INTERPOLATION_ROWS,
    INTERPOLATION_STEPS,
    interpolation_strip_png,
    sample_figure_png,
)
from bench.run.job.sampler import Sampler
from bench.run.job.scoring import EvaluationPoints, OnEvaluation, score_generator
from bench.run.store.records import JobRecord, ResultRecord, checked
from bench.run.store.results import (
    HISTORY_FILE,
    JOB_FILE,
    RESULT_FILE,
    SAMPLES_FILE,
    ResultsStore,
    history_csv,
    job_digests,
)
from bench.train.loop import TrainingSteps, TrainOutcome, run_to_end, training
from bench.tricks.registry import Trick, build_tricks

GRID_IMAGES = 64
SCATTER_POINTS = 1000


@dataclass(frozen=True)
class JobRun:
    """How a job runs: its results store and device, the `on_evaluation` callback, where it
    was placed (executor, host, worker, GPU, stream), whether CUDA steps are captured, and
    `eager`: why it runs eagerly whatever `capture` says (its capture failed in an earlier
    worker process; `bench.run.executors.packed_worker`), recorded as its execution's reason."""

    store: ResultsStore
    device: torch.device
    on_evaluation: OnEvaluation | None = None
    placement: dict[str, Any] = field(default_factory=dict)
    capture: bool = True
    eager: str | None = None


@dataclass(frozen=True)
class Loaded:
    """A job ready to train: its description, folder, tricks, and data on the device."""

    described: dict[str, Any]
    folder: Path
    tricks: list[Trick]
    dataset: Dataset
    data: Tensor
    labels: Tensor | None


@dataclass(frozen=True)
class Scores:
    """What scoring found: the final metrics (also without sampling tricks), their
    provenance, every evaluation point (checkpoints and the end) and the checkpoints'
    provenance, the time spent, and the sample figures (PNG by file)."""

    metrics: dict[str, float]
    without_sampling_tricks: dict[str, float] | None
    provenance: dict[str, Any]
    evaluations: list[dict[str, float]]
    checkpoint_provenance: dict[str, Any]
    eval_time_s: float
    figures: dict[str, bytes]


def run_job(
    job: Job,
    store: ResultsStore,
    device: torch.device,
    on_evaluation: OnEvaluation | None = None,
    placement: dict[str, Any] | None = None,
    capture: bool = True,
) -> dict[str, Any]:
    """Train and score `job`, write its files, and return its result record.

    `placement` (executor, host, worker, GPU) is recorded beside the execution mode;
    `capture=False` (`--no-capture`) keeps a CUDA job's step eager.

    The generator is also scored at the checkpoints during training
    (`JobConfig.evaluation_steps`, `bench.run.job.scoring.EvaluationPoints`) and
    `on_evaluation(step, metrics)` is called at each; raising `StopTraining` there ends the
    run early (its status is the exception's, e.g. "pruned", and its metrics those of the last
    point).
    """
    run = JobRun(store, device, on_evaluation, placement or {}, capture)
    return run_to_end(job_steps(job, run))


def job_steps(job: Job, run: JobRun) -> Generator[None, None, dict[str, Any]]:
    """`run_job`, one training iteration per `next()` (for packed runs); returns the record.
    The job's CPU time is counted over its own turns only (`bench.run.job.cpu_time`)."""
    clock = CpuClock()
    return (yield from clock.timed(_job_steps(job, run, clock)))


def _job_steps(job: Job, run: JobRun, clock: CpuClock) -> Generator[None, None, dict[str, Any]]:
    started = time.perf_counter()
    loaded = load(job, run)
    points = EvaluationPoints(job, loaded.dataset, run.device, run.on_evaluation)
    before_training = clock.seconds()
    outcome = yield from train(job, loaded, run, points)
    cpu = Cpu(clock, clock.seconds() - before_training)
    scores = score(job, loaded, outcome, points, run.device)
    return write(job, run, loaded, outcome, scores, started, cpu)


@dataclass(frozen=True)
class Cpu:
    """A job's CPU clock, and the CPU seconds its training phase took (as `train_time_s`,
    evaluation points included)."""

    clock: CpuClock
    train_s: float


def load(job: Job, run: JobRun) -> Loaded:
    """Build the job's tricks from its resolved parameters, write its `job.json`, make the
    device's kernels deterministic, and put its training data on the device."""
    folder = run.store.job_dir(job.suite, job.id)
    described = {
        **job.record(),
        "plugins": plugins_used(job.config, job.modules),
        # not part of the job id (`bench.run.executors.threads`)
        "threads": torch.get_num_threads(),
    }
    checked(JobRecord, described, JOB_FILE)
    atomic_write_json(folder / JOB_FILE, described)
    dataset = load_dataset(job.config.data)
    images, labels = training_subset(
        dataset.train, dataset.train_labels, job.config.data.train_fraction
    )
    deterministic_kernels(run.device)
    data = images.to(run.device)
    labels = None if labels is None else labels.to(run.device)
    return Loaded(described, folder, build_tricks(job.tricks), dataset, data, labels)


def train(job: Job, loaded: Loaded, run: JobRun, points: EvaluationPoints) -> TrainingSteps:
    """The stepwise training run (`bench.train.loop.training`), scored at `points`."""
    return training(
        job.config,
        job.seed,
        loaded.data,
        loaded.tricks,
        run.device,
        labels=loaded.labels,
        num_classes=loaded.dataset.num_classes,
        capture=run.capture and run.eager is None,
        checkpoints=points,
    )


def score(
    job: Job,
    loaded: Loaded,
    outcome: TrainOutcome,
    points: EvaluationPoints,
    device: torch.device,
) -> Scores:
    """Sample figures and final metrics of the trained G (those of the last evaluation point
    when training was stopped; none when G's output is not finite)."""
    dataset, seed = loaded.dataset, job.config.eval.seed
    shown = SCATTER_POINTS if dataset.kind == "toy2d" else GRID_IMAGES
    grid = Sampler(outcome, seed + 1, dataset.test).generate(shown)
    finite, figures = bool(torch.isfinite(grid).all()), {}
    if finite:
        figures[SAMPLES_FILE] = sample_figure_png(grid, dataset)
        if job.config.eval.interpolation_strip and dataset.kind == "image":
            strip = Sampler(outcome, seed + 2, dataset.test).interpolate(
                INTERPOLATION_ROWS, INTERPOLATION_STEPS
            )
            figures[INTERPOLATION_FILE] = interpolation_strip_png(strip)
    evaluations, without = points.evaluations, None
    if outcome.stopped:
        metrics = {k: v for k, v in evaluations[-1].items() if k != "step"} if evaluations else {}
        provenance, seconds = points.provenance, 0.0
    elif finite:
        metrics, provenance, seconds = score_generator(outcome, dataset, job, device)
        evaluations.append({"step": outcome.steps_completed, **metrics})
        if any(trick.is_sampling_trick() for trick in loaded.tricks):
            without, _, extra = score_generator(
                outcome, dataset, job, device, sampling_tricks=False
            )
            seconds += extra
    else:
        metrics, provenance, seconds = {}, {"skipped": "generator output is not finite"}, 0.0
    return Scores(
        metrics,
        without,
        provenance,
        evaluations,
        points.provenance,
        seconds + points.seconds,
        figures,
    )


def write(
    job: Job,
    run: JobRun,
    loaded: Loaded,
    outcome: TrainOutcome,
    scores: Scores,
    started: float,
    cpu: Cpu,
) -> dict[str, Any]:
    """Write the sample figures, `history.csv` and, last, `result.json` with the digest of
    every other file of the job folder (`bench.run.store.results.job_digests`); return the
    record."""
    for name, png in scores.figures.items():
        atomic_write_bytes(loaded.folder / name, png)
    rows = with_evaluations(outcome, scores.evaluations)
    atomic_write_bytes(loaded.folder / HISTORY_FILE, history_csv(rows))
    wall_time_s = time.perf_counter() - started
    record = result_record(loaded.described, run, outcome, scores, wall_time_s, cpu)
    record["digests"] = job_digests(loaded.folder)
    checked(ResultRecord, record, RESULT_FILE)
    atomic_write_json(loaded.folder / RESULT_FILE, record)
    return record


def result_record(
    described: dict[str, Any],
    run: JobRun,
    outcome: TrainOutcome,
    scores: Scores,
    wall_time_s: float,
    cpu: Cpu,
) -> dict[str, Any]:
    """What `result.json` holds: the job, how it ended, its metrics, cost (wall and CPU
    time, `bench.run.job.cpu_time`) and provenance."""
    divergence, stopped = outcome.divergence, outcome.stopped
    return {
        **described,
        "status": outcome.status,
        "diverged_at": divergence.step if divergence else None,
        "reason": divergence.detail if divergence else (stopped.reason if stopped else None),
        "events": [dataclasses.asdict(e) for e in outcome.events],
        "metrics": scores.metrics,
        "metrics_without_sampling_tricks": scores.without_sampling_tricks,
        "metric_provenance": scores.provenance,
        "evaluations": scores.evaluations,
        "checkpoint_provenance": scores.checkpoint_provenance,
        "best": best_values(scores.evaluations),
        "steps_completed": outcome.steps_completed,
        "train_time_s": outcome.train_time_s,
        "eval_time_s": scores.eval_time_s,
        "wall_time_s": wall_time_s,
        "cpu_time_s": cpu.clock.seconds(),
        "train_cpu_time_s": cpu.train_s,
        "steps_per_s": outcome.steps_completed / max(outcome.train_time_s, 1e-9),
        "device": device_name(run.device),
        "versions": versions(),
        "fingerprint": fingerprint(run.device),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "execution": {**outcome.execution, **run.placement, **eager_reason(run)},
    }


def eager_reason(run: JobRun) -> dict[str, str]:
    """The execution reason of a job rerun eagerly after a failed capture (else nothing)."""
    return {} if run.eager is None else {"reason": run.eager}


def with_evaluations(
    outcome: TrainOutcome, evaluations: list[dict[str, float]]
) -> list[dict[str, float]]:
    """History rows with each evaluation's metrics merged into the row of its step."""
    by_step = {int(e["step"]): e for e in evaluations}
    return [{**row, **by_step.get(int(row["step"]), {})} for row in outcome.history]


def best_values(evaluations: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """The best value of each comparable metric over the evaluation points, and its step."""
    best: dict[str, dict[str, float]] = {}
    for name in comparable_metrics():
        points = [(e[name], e["step"]) for e in evaluations if e.get(name) is not None]
        if points:
            value, step = (max if metric(name).direction > 0 else min)(points)
            best[name] = {"value": value, "step": step}
    return best
