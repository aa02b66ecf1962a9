"""Scoring a trained G: its metrics at the end of training and at checkpoints during it."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bench.config import EvalConfig
from bench.data import Dataset
from bench.expand import Job
from bench.metrics import evaluate
from bench.run.job.sampler import Sampler
from bench.train.loop import TrainOutcome

OnEvaluation = Callable[[int, dict[str, float]], None]


CHECKPOINT_SAMPLE_SHARE = 2  # a checkpoint before the end scores 1/2 of eval.num_samples
CHECKPOINT_MIN_SAMPLES = 50  # ... but at least this many (or all of them, if fewer)
CHECKPOINT_KID_SUBSETS = 10  # and KID over 10 subsets instead of 100: the same estimator


def checkpoint_eval(cfg: EvalConfig) -> EvalConfig:
    """The evaluation settings of a checkpoint before the end of training: fewer samples,
    the same for every variant (the end keeps the full evaluation)."""
    fewer = max(cfg.num_samples // CHECKPOINT_SAMPLE_SHARE, CHECKPOINT_MIN_SAMPLES)
    return cfg.model_copy(update={"num_samples": min(cfg.num_samples, fewer)})


class NonFiniteSamples(Exception):
    """G's output holds NaN or inf: there is nothing to score."""


def score_generator(
    outcome: TrainOutcome,
    dataset: Dataset,
    job: Job,
    device: torch.device,
    sampling_tricks: bool = True,
    checkpoint: bool = False,
) -> tuple[dict[str, float], dict[str, Any], float]:
    """The configured metrics of the trained G, with their provenance and wall time.

    `sampling_tricks=False` scores the same G without the evaluation-time `sample` hooks;
    `checkpoint=True` scores with `checkpoint_eval`'s settings and `CHECKPOINT_KID_SUBSETS`
    (and raises `NonFiniteSamples` rather than score NaN images). Paired generators (pix2pix)
    complete the test split's input images.
    """
    started = time.perf_counter()
    sampler = Sampler(outcome, job.config.eval.seed, dataset.test)
    cfg, extra = job.config.eval, {}
    if checkpoint:
        cfg, extra = checkpoint_eval(cfg), {"kid_subsets": CHECKPOINT_KID_SUBSETS}

    def generate(n: int) -> Tensor:
        images = sampler.generate(n, sampling_tricks)
        if checkpoint and not torch.isfinite(images).all():
            raise NonFiniteSamples
        return images

    result = evaluate(generate, dataset, cfg, device, **extra)
    values = {k: v for k, v in result.values.items() if v is None or math.isfinite(v)}
    return values, result.provenance, time.perf_counter() - started


@contextmanager
def training_rng_kept(device: torch.device) -> Iterator[None]:
    """Run the block and leave every global random stream (torch on the CPU and `device`,
    NumPy, Python) as it found it: scoring during training never shifts training."""
    devices = [device] if device.type == "cuda" else []
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


class EvaluationPoints:
    """The checkpoints (`bench.train.loop.Checkpoints`) of a job: G scored at each step of
    `JobConfig.evaluation_steps` before the end, as at the end (sampling tricks, the EMA G),
    with `checkpoint_eval`'s fewer samples; the end is scored after training, not here.

    Scoring never touches the training RNG (`training_rng_kept`; the sampler has its own), so
    training is the same with or without checkpoints. `evaluations` holds one row per point
    (`step` and the metrics; no metrics where G's output is not finite); `provenance` is the
    last point's.
    """

    def __init__(
        self, job: Job, dataset: Dataset, device: torch.device, on_evaluation: OnEvaluation | None
    ) -> None:
        self.job, self.dataset, self.device = job, dataset, device
        self.on_evaluation = on_evaluation
        self.steps = frozenset(job.config.evaluation_steps) - {job.config.train.steps}
        self.evaluations: list[dict[str, float]] = []
        self.provenance: dict[str, Any] = {}
        self.seconds = 0.0

    def __call__(self, step: int, outcome: TrainOutcome) -> None:
        with training_rng_kept(self.device):
            try:
                metrics, self.provenance, seconds = score_generator(
                    outcome, self.dataset, self.job, self.device, checkpoint=True
                )
            except NonFiniteSamples:
                metrics, seconds = {}, 0.0
        outcome.generator.train()
        self.seconds += seconds
        self.evaluations.append({"step": step, **metrics})
        if self.on_evaluation is not None:
            self.on_evaluation(step, metrics)
