"""Tiny tuning suites (8x8 digits, tiny nets, 10 steps), studies and worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
from optuna.trial import TrialState
from sqlalchemy.exc import OperationalError

from bench.expand import Job
from bench.run.job.phases import run_job
from bench.run.store.results import ResultsStore

TUNE_HEADER = {
    "name": "tinytune",
    "design": "variants",
    "seeds": [0],
    "exploratory": "a seconds-long test fixture; one seed cannot reach a verdict",
}
TUNE_TABLES = """
[variants.noise]
tricks = {{ instance_noise = {{ sigma = 0.1 }} }}

[tune]
n_trials = 4
sampler = "random"
pruner = "{pruner}"
pruner_startup_trials = 2
heartbeat_s = 1
grace_s = 2

[tune.params]
"train.lr_g" = {{ type = "float", low = 1e-4, high = 0.5, log = true }}
"train.d_steps" = {{ type = "int", low = 1, high = 3 }}
"train.g_steps" = {{ choices = [1, 2] }}
"tricks.instance_noise.sigma" = {{ type = "float", low = 0.01, high = 0.5 }}
"""


def write_suite(
    folder: Path, suite_text, steps: int = 10, pruner: str = "none", every: int | None = 5
) -> Path:
    """A tuning suite: baseline and instance noise, lr_g, D/G steps and the noise sigma."""
    path = folder / "tinytune.toml"
    base = {"train": {"steps": steps}, "eval": {"every": every or None}}
    path.write_text(suite_text(TUNE_HEADER, base, TUNE_TABLES.format(pruner=pruner)))
    return path


@pytest.fixture
def make_tune_suite(tmp_path: Path, suite_text):
    """Factory: `make_tune_suite(steps=10, pruner="none", every=5)` -> the suite file."""
    return lambda **kwargs: write_suite(tmp_path, suite_text, **kwargs)


@pytest.fixture
def tune_suite_file(tmp_path: Path, suite_text) -> Path:
    return write_suite(tmp_path, suite_text)


def sqlite_url(results: Path) -> str:
    """The default storage of the tiny suite's studies under `results`."""
    return f"sqlite:///{results / 'tinytune.trials' / 'optuna.db'}"


def load_study(results: Path, name: str = "tinytune.baseline") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=sqlite_url(results))


def wait_running(url: str, study: str, worker: subprocess.Popen, limit_s: float = 120) -> int:
    """The number of the worker's first trial, once it has its parameters and is training."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert worker.poll() is None, worker.communicate()[0]
        try:
            trials = optuna.load_study(study_name=study, storage=url).trials
        except (KeyError, OperationalError):  # no study yet, or not even its folder
            trials = []
        running = [t for t in trials if t.state == TrialState.RUNNING and t.params]
        if running:
            return running[0].number
        time.sleep(0.1)
    raise AssertionError("the worker never started a trial")


def trial_records(results: Path) -> list[dict]:
    paths = (results / "tinytune.trials").glob("*/result.json")
    return [json.loads(p.read_text()) for p in sorted(paths)]


def assert_shared_study(study: optuna.Study, n_trials: int, records: list[dict]) -> None:
    """Exactly `n_trials` complete trials, each its own job; both workers took part."""
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == n_trials
    assert len({t.number for t in trials}) == n_trials
    assert len({t.user_attrs["job_id"] for t in trials}) == n_trials, "a config ran twice"
    assert sorted(r["tuning"]["trial"] for r in records) == sorted(t.number for t in trials)
    assert len({r["tuning"]["worker"] for r in records}) == 2, "one worker did everything"


@pytest.fixture
def tuning():
    """Helpers to start workers and read studies and trial records back."""
    return SimpleNamespace(
        study=load_study,
        sqlite=sqlite_url,
        wait_running=wait_running,
        records=trial_records,
        worker=bench_worker,
        assert_shared=assert_shared_study,
    )


@pytest.fixture(scope="session")
def warm_cache(isolated_cache: Path, tiny_job) -> Path:
    """Train the digits backbone once, before worker processes would each train it."""
    run_job(
        Job("warm", "baseline", 0, tiny_job(steps=5)),
        ResultsStore(isolated_cache / "warm"),
        torch.device("cpu"),
    )
    return isolated_cache


def bench_worker(suite: Path, results: Path, *args: str) -> subprocess.Popen:
    """`bench tune` in its own process (one torch thread, so two share 2 cores fairly)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "bench.cli", "tune", str(suite), "--results", str(results)]
    return subprocess.Popen(
        [*command, "--device", "cpu", "--quiet", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
