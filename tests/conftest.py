"""Shared fixtures: a per-session cache (backbones, reference stats) and tiny job configs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from bench.config import DataConfig, EvalConfig, JobConfig, ModelConfig, TrainConfig
from bench.errors import ConfigError
from bench.tricks.registry import all_tricks, resolve_tricks

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


@pytest.fixture(scope="session")
def tiny_job():
    """Factory of tiny job configs: `tiny_job(steps=20, trick_name={params})`."""
    return tiny_job_config


FAST_TRICK_SETTINGS = {"langevin_refinement": {"steps": 2}, "pix2pix": {"width": 8}}
TINY_BASE = {
    "data": {"name": "digits"},
    "model": {"latent_dim": 8, "g_width": 8, "d_width": 8},
    "train": {"steps": 10, "batch_size": 32, "log_every": 5},
    "eval": {"metrics": ["fid"], "num_samples": 100, "backbone": "domain"},
}


def fast_settings(name: str) -> dict:
    """A trick's parameters for tests: smaller where its defaults are slow, the same code."""
    return FAST_TRICK_SETTINGS.get(name, {})


def greedy_combination(names: list[str], capabilities: frozenset[str]) -> dict[str, dict]:
    """Greedily add tricks in `names` order (with `fast_settings`) while the set stays valid."""
    chosen: dict[str, dict] = {}
    for name in names:
        candidate = {**chosen, name: fast_settings(name)}
        try:
            resolve_tricks(candidate, "test", capabilities)
        except ConfigError:
            continue
        chosen = candidate
    return chosen


def alone(name: str) -> dict[str, dict]:
    """The trick spec of `name` on its own: it and the tricks it `requires`, `fast_settings`."""
    required = all_tricks()[name].requires
    return {**{other: fast_settings(other) for other in required}, name: fast_settings(name)}


@pytest.fixture
def trick_alone():
    """`trick_alone(name)` -> a valid spec with just that trick (and what it requires)."""
    return alone


@pytest.fixture
def compatible_combination():
    """`compatible_combination(names, capabilities)` -> a valid trick spec, built greedily."""
    return greedy_combination


def tiny_suite_text(suite: dict, base: dict | None = None, rest: str = "") -> str:
    """Suite TOML that trains for seconds: `[suite]` from `suite`, the `TINY_BASE` tables with
    `base` merged in per table (a table or key set to None is left out), then `rest`."""
    tables = {"suite": suite}
    for table, defaults in TINY_BASE.items():
        changes = (base or {}).get(table, {})
        if changes is not None:
            tables[f"base.{table}"] = {
                key: value for key, value in {**defaults, **changes}.items() if value is not None
            }
    text = "\n".join(
        f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in body.items())
        for name, body in tables.items()
    )
    return f"{text}\n{rest}"


@pytest.fixture
def suite_text():
    """`suite_text(suite, base=None, rest="")` -> tiny suite TOML (see `tiny_suite_text`)."""
    return tiny_suite_text


TINY_SUITE = tiny_suite_text(
    {
        "name": "tiny",
        "design": "one_at_a_time",
        "seeds": [0, 1],
        "exploratory": "a seconds-long test fixture; two seeds cannot reach a verdict",
    },
    rest="[tricks.one_sided_label_smoothing]\n",
)


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    """A 4-job suite file (baseline + one trick, 2 seeds) that runs in seconds."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SUITE)
    return path


@pytest.fixture(scope="session")
def tiny_suite_source() -> str:
    """The text of `tiny_suite`, for session-scoped fixtures."""
    return TINY_SUITE
