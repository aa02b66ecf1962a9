"""Every registered trick trains and samples on CPU, alone and in large mixed combinations."""

from __future__ import annotations

import pytest
import torch

from bench.data import load_dataset
from bench.expand import Job
from bench.run.job.phases import run_job
from bench.run.job.sampler import Sampler
from bench.run.store.results import ResultsStore
from bench.train.loop import train
from bench.tricks.registry import all_tricks, build_tricks, resolve_tricks

CPU = torch.device("cpu")


def run_briefly(tiny_job, spec: dict[str, dict]) -> None:
    """Train a few steps and draw evaluation samples: finishes or diverges, never raises."""
    cfg = tiny_job(steps=4, **spec)
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"log_every": 2})})
    dataset = load_dataset(cfg.data)
    tricks = build_tricks(resolve_tricks(cfg.tricks, "test", dataset.capabilities))
    outcome = train(
        cfg,
        0,
        dataset.train,
        tricks,
        CPU,
        labels=dataset.train_labels,
        num_classes=dataset.num_classes,
    )
    assert outcome.status in {"ok", "diverged"}
    if outcome.status == "ok":
        assert outcome.steps_completed == 4
        samples = Sampler(outcome, 0, dataset.test).generate(12)
        assert samples.shape == (12, *dataset.shape)


@pytest.mark.parametrize("name", sorted(all_tricks()))
def test_each_trick_alone(tiny_job, trick_alone, name: str) -> None:
    run_briefly(tiny_job, trick_alone(name))


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_large_mixed_combinations(tiny_job, compatible_combination, direction: str) -> None:
    names = sorted(all_tricks(), reverse=direction == "reverse")
    spec = compatible_combination(names, load_dataset(tiny_job().data).capabilities)
    assert len(spec) >= 10, spec
    run_briefly(tiny_job, spec)


def test_a_job_records_metrics_with_and_without_sampling_tricks(tiny_job, tmp_path) -> None:
    cfg = tiny_job(steps=4, truncation={"threshold": 0.5}, ema_generator={})
    tricks = resolve_tricks(cfg.tricks, "test", frozenset({"images"}))
    record = run_job(Job("mix", "v", 0, cfg, tricks), ResultsStore(tmp_path), CPU)
    assert record["status"] == "ok"
    with_tricks, without = record["metrics"]["fid"], record["metrics_without_sampling_tricks"]
    assert without is not None and without["fid"] != with_tricks
