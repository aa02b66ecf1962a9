"""Scoring a trained G: its metrics at the end of training and at evaluation points during it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from bench.data import Dataset
from bench.expand import Job
from bench.metrics import evaluate
from bench.run.sampling import Sampler
from bench.train.loop import TrainOutcome

OnEvaluation = Callable[[int, dict[str, float]], None]


def score_generator(
    outcome: TrainOutcome,
    dataset: Dataset,
    job: Job,
    device: torch.device,
    sampling_tricks: bool = True,
) -> tuple[dict[str, float], dict[str, Any], float]:
    """The configured metrics of the trained G, with their provenance and wall time.

    `sampling_tricks=False` scores the same G without the evaluation-time `sample` hooks.
    Paired generators (pix2pix) complete the test split's input images.
    """
    started = time.perf_counter()
    sampler = Sampler(outcome, job.config.eval.seed, dataset.test)
    result = evaluate(
        lambda n: sampler.generate(n, sampling_tricks), dataset, job.config.eval, device
    )
    values = {k: v for k, v in result.values.items() if v is None or math.isfinite(v)}
    return values, result.provenance, time.perf_counter() - started


class EvaluationPoints:
    """The `on_log` callback that scores G every `eval.every` steps during training.

    Evaluation runs under a forked RNG state, so scoring during training never changes the
    training trajectory; the final step is scored after training, not here. `evaluations`
    holds one row per point (`step` and the metrics).
    """

    def __init__(
        self, job: Job, dataset: Dataset, device: torch.device, on_evaluation: OnEvaluation | None
    ) -> None:
        self.job, self.dataset, self.device = job, dataset, device
        self.on_evaluation = on_evaluation
        self.evaluations: list[dict[str, float]] = []
        self.provenance: dict[str, Any] = {}
        self.seconds = 0.0

    def __call__(self, row: dict[str, float], outcome: TrainOutcome) -> None:
        every, step = self.job.config.eval.every, int(row["step"])
        if not every or step % every or step == self.job.config.train.steps:
            return
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            metrics, self.provenance, seconds = score_generator(
                outcome, self.dataset, self.job, self.device
            )
        outcome.generator.train()
        self.seconds += seconds
        self.evaluations.append({"step": step, **metrics})
        if self.on_evaluation is not None:
            self.on_evaluation(step, metrics)
