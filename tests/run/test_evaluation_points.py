"""Checkpoints: G scored during training (default schedule, eval.at, eval.every), recorded per
step, as at the end (EMA, sampling tricks), without touching training; curves, pruning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.config import JobConfig
from bench.data import dataset_capabilities
from bench.expand import Job
from bench.run.job.phases import run_job
from bench.run.store.records import ResultRecord
from bench.run.store.results import HISTORY_FILE, RESULT_FILE, ResultsStore
from bench.train.loop import StopTraining
from bench.tricks.registry import resolve_tricks

CPU = torch.device("cpu")


def with_eval(cfg: JobConfig, **update) -> JobConfig:
    return cfg.model_copy(update={"eval": cfg.eval.model_copy(update=update)})


def points_job(cfg: JobConfig, seed: int) -> Job:
    """Job 'a' of suite 'points' with `cfg`, its tricks resolved as expansion resolves them."""
    capabilities = dataset_capabilities(cfg.data.name)
    return Job("points", "a", seed, cfg, resolve_tricks(cfg.tricks, "test", capabilities))


def job_with(tiny_job, every: int | None) -> Job:
    return Job("points", "baseline", 0, with_eval(tiny_job(steps=20), every=every))


def test_default_checkpoints_are_eighths_quarters_and_halves_of_training(tiny_job) -> None:
    assert tiny_job(steps=300).evaluation_steps == (38, 75, 150, 225, 300)
    assert tiny_job(steps=20).evaluation_steps == (3, 5, 10, 15, 20)
    assert tiny_job(steps=4).evaluation_steps == (1, 2, 3, 4)  # rounded, repeats dropped
    assert tiny_job(steps=1).evaluation_steps == (1,)


def test_eval_at_and_eval_every_replace_the_default_checkpoints(tiny_job) -> None:
    cfg = tiny_job(steps=20)
    assert JobConfig.model_validate(
        {**cfg.model_dump(), "eval": {**cfg.eval.model_dump(), "at": [12, 4]}}
    ).evaluation_steps == (4, 12, 20)
    assert with_eval(cfg, at=()).evaluation_steps == (20,)  # only the end
    assert with_eval(cfg, every=5).evaluation_steps == (5, 10, 15, 20)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("base.eval.at=[400]", "key 'base': eval.at = [400]: 400 is not a distinct whole step "
         "from 1 to train.steps (300)"),
        ("base.eval.at=[0]", "0 is not a distinct whole step"),
        ("base.eval.at=[50, 50]", "a step is listed twice"),
        ("base.eval.at=50", "key 'base.eval.at' = 50: Value error, expected a list of training "
         "steps"),
        ("base.eval.at=[true]", "expected a list of training steps"),
    ],
)  # fmt: skip
def test_bad_eval_at_is_one_line_naming_file_and_key(setting, message, capsys) -> None:
    code = main(["run", "suites/label_tricks.toml", "--dry-run", "--set", setting])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: suites/label_tricks.toml: key 'base")
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_eval_at_with_eval_every_is_refused(capsys) -> None:
    argv = ["--set", "base.eval.at=[100]", "--set", "base.eval.every=50"]
    assert main(["run", "suites/label_tricks.toml", "--dry-run", *argv]) != 0
    assert "set eval.at or eval.every, not both" in capsys.readouterr().err


def test_checkpoints_leave_training_bit_identical(tiny_job, tmp_path: Path) -> None:
    """The same job with and without checkpoints: the same losses at every log point and the
    same final metrics, exactly, with EMA of G, truncation and noisy labels drawing from the
    training stream."""
    cfg = tiny_job(steps=20, ema_generator={}, truncation={"threshold": 1.5}, noisy_labels={})
    store = ResultsStore(tmp_path)
    without = run_job(points_job(with_eval(cfg, at=()), 3), store, CPU)
    default = run_job(points_job(cfg, 3), store, CPU)
    assert [e["step"] for e in without["evaluations"]] == [20]
    assert [e["step"] for e in default["evaluations"]] == [3, 5, 10, 15, 20]
    assert default["metrics"] == without["metrics"]
    assert default["metrics_without_sampling_tricks"] == without["metrics_without_sampling_tricks"]
    histories = [
        (tmp_path / "points" / r["job_id"] / HISTORY_FILE).read_text().splitlines()
        for r in (without, default)
    ]
    losses = [[line.split(",")[:3] for line in h] for h in histories]
    assert losses[0] == losses[1]


def test_a_checkpoint_scores_g_as_the_end_of_a_shorter_run_would(tiny_job, tmp_path) -> None:
    """Step 5 of a 10-step job (EMA and truncation on) scored at a checkpoint equals the end
    of the same job trained for 5 steps, scored with the checkpoint's 50 of 100 samples: the
    checkpoint samples the EMA G through the sampling tricks, as the end does."""
    cfg = tiny_job(steps=10, ema_generator={}, truncation={"threshold": 1.0})
    store = ResultsStore(tmp_path)
    long = run_job(points_job(with_eval(cfg, at=(5,)), 1), store, CPU)
    short_cfg = with_eval(cfg.model_copy(update={"train": cfg.train.model_copy(
        update={"steps": 5})}), at=(), num_samples=50)  # fmt: skip
    short = run_job(points_job(short_cfg, 1), store, CPU)
    at_five = long["evaluations"][0]
    assert at_five["step"] == 5
    assert at_five["fid"] == short["metrics"]["fid"]


def test_each_checkpoint_is_recorded_with_its_sample_count(tiny_job, tmp_path: Path) -> None:
    record = run_job(job_with(tiny_job, None), ResultsStore(tmp_path), CPU)
    on_disk = json.loads((tmp_path / "points" / record["job_id"] / RESULT_FILE).read_text())
    checked = ResultRecord.model_validate(on_disk)
    assert [e["step"] for e in checked.evaluations] == [3, 5, 10, 15, 20]
    assert all(e["fid"] is not None and e["fid"] > 0 for e in checked.evaluations)
    assert checked.evaluations[-1]["fid"] == checked.metrics["fid"]
    assert checked.checkpoint_provenance["num_generated"] == 50  # half of 100 before the end
    assert checked.metric_provenance["num_generated"] == 100  # the end: the full evaluation
    finished, damaged = ResultsStore(tmp_path).finished("points")  # digests still hold
    assert [r["job_id"] for r in finished] == [record["job_id"]] and not damaged


def test_curve_has_a_point_per_interval_and_training_is_unchanged(tiny_job, tmp_path) -> None:
    store = ResultsStore(tmp_path)
    plain = run_job(job_with(tiny_job, None), store, CPU)
    curve = run_job(job_with(tiny_job, 5), store, CPU)
    assert [e["step"] for e in curve["evaluations"]] == [5, 10, 15, 20]
    assert curve["metrics"]["fid"] == plain["metrics"]["fid"]  # same final G
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
