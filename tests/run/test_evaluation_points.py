"""Scoring during training (eval.every): curves, best values, pruning, no side effects."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.expand import Job
from bench.run.job import run_job
from bench.run.store import ResultsStore
from bench.train.loop import StopTraining

CPU = torch.device("cpu")


def job_with(tiny_job, every: int | None) -> Job:
    cfg = tiny_job(steps=20)
    return Job("points", "baseline", 0, cfg.model_copy(update={"eval": cfg.eval.model_copy(
        update={"every": every})}))  # fmt: skip


def test_curve_has_a_point_per_interval_and_training_is_unchanged(tiny_job, tmp_path) -> None:
    store = ResultsStore(tmp_path)
    plain = run_job(job_with(tiny_job, None), store, CPU)
    curve = run_job(job_with(tiny_job, 5), store, CPU)
    assert [e["step"] for e in curve["evaluations"]] == [5, 10, 15, 20]
    assert [e["step"] for e in plain["evaluations"]] == [20]
    assert curve["metrics"]["fid"] == pytest.approx(plain["metrics"]["fid"])  # same final G
    fids = [e["fid"] for e in curve["evaluations"]]
    assert curve["best"]["fid"]["value"] == min(fids)
    history = (tmp_path / "points" / curve["job_id"] / "history.csv").read_text().splitlines()
    assert "fid" in history[0].split(",")


def test_stop_training_from_an_evaluation_records_the_status(tiny_job, tmp_path: Path) -> None:
    def prune(step: int, metrics: dict[str, float]) -> None:
        raise StopTraining("pruned", f"pruned at step {step}")

    record = run_job(job_with(tiny_job, 10), ResultsStore(tmp_path), CPU, on_evaluation=prune)
    assert record["status"] == "pruned"
    assert record["steps_completed"] == 10
    assert record["reason"] == "pruned at step 10"
    assert record["metrics"]["fid"] == record["evaluations"][-1]["fid"]


def test_eval_every_must_fall_on_log_points(tiny_job) -> None:
    from pydantic import ValidationError

    cfg = tiny_job().model_dump()
    cfg["eval"]["every"] = 7  # log_every is 5
    with pytest.raises(ValidationError, match=r"multiple of train\.log_every"):
        type(tiny_job()).model_validate(cfg)
