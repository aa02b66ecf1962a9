"""Shared fixtures: a per-session cache (backbones, reference stats) and tiny job configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from bench.config import DataConfig, EvalConfig, JobConfig, ModelConfig, TrainConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> None:
    """Tiny nets run fastest on one thread; two contend with each other on a busy 2-core box."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Backbones and reference statistics go to one temporary cache for the whole session."""
    cache = tmp_path_factory.mktemp("gan-bench-cache")
    previous = os.environ.get("GAN_BENCH_CACHE")
    os.environ["GAN_BENCH_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("GAN_BENCH_CACHE", None)
    else:
        os.environ["GAN_BENCH_CACHE"] = previous


def tiny_job_config(steps: int = 20, **tricks: dict) -> JobConfig:
    """A DCGAN on 8x8 digits small enough to train in well under a second."""
    return JobConfig(
        data=DataConfig(name="digits"),
        model=ModelConfig(latent_dim=8, g_width=8, d_width=8),
        train=TrainConfig(steps=steps, batch_size=32, log_every=5),
        eval=EvalConfig(metrics=("fid",), num_samples=100, backbone="domain"),
        tricks=tricks,
    )


@pytest.fixture
def tiny_job():
    """Factory of tiny job configs: `tiny_job(steps=20, trick_name={params})`."""
    return tiny_job_config


TINY_SUITE = """
[suite]
name = "tiny"
design = "one_at_a_time"
seeds = [0, 1]
exploratory = "a seconds-long test fixture; two seeds cannot reach a verdict"

[base.data]
name = "digits"

[base.model]
latent_dim = 8
g_width = 8
d_width = 8

[base.train]
steps = 10
batch_size = 32
log_every = 5

[base.eval]
metrics = ["fid"]
num_samples = 100
backbone = "domain"

[tricks.one_sided_label_smoothing]
"""


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    """A 4-job suite file (baseline + one trick, 2 seeds) that runs in seconds."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SUITE)
    return path
