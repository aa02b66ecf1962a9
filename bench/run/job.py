"""One job end to end: load data, train, score, write the job's files (result last)."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import platform
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import torch

from bench.components import import_suite_plugins, plugins_used, resolve_components
from bench.data import Dataset, load_dataset
from bench.data.subset import training_subset
from bench.errors import ConfigError
from bench.expand import Job
from bench.metric_registry import comparable_metrics, metric
from bench.metrics import evaluate
from bench.run.fingerprint import fingerprint
from bench.run.samples import (
    INTERPOLATION_FILE,
    INTERPOLATION_ROWS,
    INTERPOLATION_STEPS,
    interpolation_strip_png,
    sample_figure_png,
)
from bench.run.sampling import Sampler
from bench.run.store import (
    HISTORY_FILE,
    JOB_FILE,
    RESULT_FILE,
    SAMPLES_FILE,
    ResultsStore,
    atomic_write_bytes,
    atomic_write_json,
)
from bench.train.loop import TrainOutcome, run_to_end, training

GRID_IMAGES = 64
SCATTER_POINTS = 1000


def resolve_device(name: str) -> torch.device:
    """`auto` -> CUDA when available, else CPU; `cuda` on a machine without one is refused."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA device is available here; use --device cpu")
    return device


def history_csv(rows: list[dict[str, float]]) -> bytes:
    if not rows:
        return b""
    out = io.StringIO()
    fields = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def versions() -> dict[str, str]:
    names = ("gan-bench", "torch", "torchvision", "torch-fidelity")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    found["python"] = platform.python_version()
    return found


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def run_job(
    job: Job,
    store: ResultsStore,
    device: torch.device,
    on_evaluation: Callable[[int, dict[str, float]], None] | None = None,
    placement: dict[str, Any] | None = None,
    capture: bool = True,
) -> dict[str, Any]:
    """Train and score `job`, write its files, and return its result record.

    `placement` (executor, host, worker, GPU) is recorded beside the execution mode;
    `capture=False` (`--no-capture`) keeps a CUDA job's step eager.

    With `eval.every`, the generator is also scored during training and `on_evaluation(step,
    metrics)` is called at each point; raising `StopTraining` there ends the run early (its
    status is the exception's, e.g. "pruned", and its metrics those of the last point).
    """
    return run_to_end(job_steps(job, store, device, on_evaluation, placement, capture))


def job_steps(
    job: Job,
    store: ResultsStore,
    device: torch.device,
    on_evaluation: Callable[[int, dict[str, float]], None] | None = None,
    placement: dict[str, Any] | None = None,
    capture: bool = True,
) -> Generator[None, None, dict[str, Any]]:
    """`run_job`, one training iteration per `next()` (for packed runs); returns the record."""
    started = time.perf_counter()
    out = store.job_dir(job.suite, job.id)
    import_suite_plugins(job.modules, f"job {job.id}")
    components = resolve_components(job.config, f"job {job.id}")
    described = {**job.record(), "plugins": plugins_used(components, job.modules)}
    atomic_write_json(out / JOB_FILE, described)
    dataset = load_dataset(job.config.data)
    tricks = components.tricks
    train_images, train_labels = training_subset(
        dataset.train, dataset.train_labels, job.config.data.train_fraction
    )
    data = train_images.to(device)
    evaluations: list[dict[str, float]] = []
    without: dict[str, float] | None = None  # the same G scored without sampling tricks
    evaluate_during = EvaluationPoints(job, dataset, device, evaluations, on_evaluation)
    labels = None if train_labels is None else train_labels.to(device)
    outcome = yield from training(
        job.config,
        job.seed,
        data,
        tricks,
        device,
        evaluate_during,
        labels,
        dataset.num_classes,
        capture,
    )

    shown = SCATTER_POINTS if dataset.kind == "toy2d" else GRID_IMAGES
    grid = Sampler(outcome, job.config.eval.seed + 1, dataset.test).generate(shown)
    finite = bool(torch.isfinite(grid).all())
    if finite:
        atomic_write_bytes(out / SAMPLES_FILE, sample_figure_png(grid, dataset))
        if job.config.eval.interpolation_strip and dataset.kind == "image":
            sampler = Sampler(outcome, job.config.eval.seed + 2, dataset.test)
            strip = sampler.interpolate(INTERPOLATION_ROWS, INTERPOLATION_STEPS)
            atomic_write_bytes(out / INTERPOLATION_FILE, interpolation_strip_png(strip))
    if outcome.stopped:
        metrics = {k: v for k, v in evaluations[-1].items() if k != "step"} if evaluations else {}
        provenance, eval_time = evaluate_during.provenance, 0.0
    elif finite:
        metrics, provenance, eval_time = score(outcome, dataset, job, device)
        evaluations.append({"step": outcome.steps_completed, **metrics})
        if any(trick.is_sampling_trick() for trick in tricks):
            without, _, extra = score(outcome, dataset, job, device, sampling_tricks=False)
            eval_time += extra
    else:
        metrics, provenance, eval_time = {}, {"skipped": "generator output is not finite"}, 0.0
    atomic_write_bytes(out / HISTORY_FILE, history_csv(with_evaluations(outcome, evaluations)))

    divergence = outcome.divergence
    wall = time.perf_counter() - started
    record = {
        **described,
        "status": outcome.status,
        "diverged_at": divergence.step if divergence else None,
        "reason": divergence.detail
        if divergence
        else (outcome.stopped.reason if outcome.stopped else None),
        "events": [dataclasses.asdict(e) for e in outcome.events],
        "metrics": metrics,
        "metrics_without_sampling_tricks": without,
        "metric_provenance": provenance,
        "evaluations": evaluations,
        "best": best_values(evaluations),
        "steps_completed": outcome.steps_completed,
        "train_time_s": outcome.train_time_s,
        "eval_time_s": eval_time + evaluate_during.seconds,
        "wall_time_s": wall,
        "steps_per_s": outcome.steps_completed / max(outcome.train_time_s, 1e-9),
        "device": device_name(device),
        "versions": versions(),
        "fingerprint": fingerprint(device),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "execution": {**outcome.execution, **(placement or {})},
    }
    atomic_write_json(out / RESULT_FILE, record)
    return record


class EvaluationPoints:
    """The `on_log` callback that scores G every `eval.every` steps during training.

    Evaluation runs under a forked RNG state, so scoring during training never changes the
    training trajectory; the final step is scored after training, not here.
    """

    def __init__(
        self,
        job: Job,
        dataset: Dataset,
        device: torch.device,
        evaluations: list[dict[str, float]],
        on_evaluation: Callable[[int, dict[str, float]], None] | None,
    ) -> None:
        self.job, self.dataset, self.device = job, dataset, device
        self.evaluations, self.on_evaluation = evaluations, on_evaluation
        self.provenance: dict[str, Any] = {}
        self.seconds = 0.0

    def __call__(self, row: dict[str, float], outcome: TrainOutcome) -> None:
        every, step = self.job.config.eval.every, int(row["step"])
        if not every or step % every or step == self.job.config.train.steps:
            return
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            metrics, self.provenance, seconds = score(outcome, self.dataset, self.job, self.device)
        outcome.generator.train()
        self.seconds += seconds
        self.evaluations.append({"step": step, **metrics})
        if self.on_evaluation is not None:
            self.on_evaluation(step, metrics)


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


def score(
    outcome: TrainOutcome,
    dataset: Dataset,
    job: Job,
    device: torch.device,
    sampling_tricks: bool = True,
) -> tuple[dict[str, float], dict[str, Any], float]:
    """The configured metrics of the trained G, with their provenance and wall time.

    `sampling_tricks=False` scores the same G without the evaluation-time `sample` hooks.
    Paired generators (pix2pix) complete the test split's source images.
    """
    started = time.perf_counter()
    sampler = Sampler(outcome, job.config.eval.seed, dataset.test)
    result = evaluate(
        lambda n: sampler.generate(n, sampling_tricks), dataset, job.config.eval, device
    )
    values = {k: v for k, v in result.values.items() if v is None or math.isfinite(v)}
    return values, result.provenance, time.perf_counter() - started
