"""Synthetic nightly runs: result sets on disk (as `bench run` writes them) and in memory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench.regress.baseline import Provenance, RunSnapshot, SeedResult, VariantRun

DEVICE = "NVIDIA H100 80GB HBM3"
METRIC = {
    "backbone": "domain",
    "backbone_version": "domain-abc123",
    "reference_split": "test",
    "num_generated": 10000,
    "num_reference": 2000,
    "dataset_version": "mnist-test-10k",
}
# The layout of suites/nightly.toml: the baseline and four tricks, five seeds.
VARIANTS = (
    "baseline",
    "instance_noise",
    "minibatch_stddev",
    "one_sided_label_smoothing",
    "spectral_norm",
)
FID = {"baseline": 20.0, "instance_noise": 24.0, "one_sided_label_smoothing": 18.0}
STEPS_PER_S = 150.0
SEEDS = (0, 1, 2, 3, 4)
FID_NOISE = 0.20  # seed-to-seed spread of FID: log-normal sigma (about 20%)
SPEED_NOISE = 0.03  # seed-to-seed spread of steps/s


def config_of(variant: str) -> dict:
    tricks = {} if variant == "baseline" else {variant: {}}
    return {
        "data": {"name": "mnist", "root": "../shared/data/mnist", "image_size": 32},
        "train": {"steps": 3000, "batch_size": 64},
        "eval": {"metrics": ["fid"], "num_samples": 10000, "backbone": "domain"},
        "tricks": tricks,
    }


def draw(
    rng: np.random.Generator,
    fid_scale: dict[str, float] | None = None,
    speed_scale: dict[str, float] | None = None,
) -> dict[str, dict[int, tuple[float, float]]]:
    """Per variant and seed, (FID, steps/s) with seed noise; scales inject regressions."""
    return {
        variant: {
            seed: (
                FID.get(variant, 22.0)
                * (fid_scale or {}).get(variant, 1.0)
                * float(np.exp(rng.normal(0, FID_NOISE))),
                STEPS_PER_S
                * (speed_scale or {}).get(variant, 1.0)
                * float(np.exp(rng.normal(0, SPEED_NOISE))),
            )
            for seed in SEEDS
        }
        for variant in VARIANTS
    }


def in_memory(values: dict[str, dict[int, tuple[float, float]]]) -> RunSnapshot:
    variants = {
        variant: VariantRun(
            config=config_of(variant),
            seeds={
                seed: SeedResult(job_id=f"{variant}-{seed}", status="ok", fid=f, steps_per_s=s)
                for seed, (f, s) in seeds.items()
            },
        )
        for variant, seeds in values.items()
    }
    provenance = Provenance(device=DEVICE, metric=METRIC)
    return RunSnapshot(suite="nightly", provenance=provenance, variants=variants)


class ResultSet:
    """Writes `results/<suite>/suite.json` and one `result.json` per job, as `bench run` does."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(
        self,
        values: dict[str, dict[int, tuple[float, float]]],
        *,
        suite: str = "nightly",
        device: str = DEVICE,
        metric: dict | None = None,
        statuses: dict[tuple[str, int], str] | None = None,
        finished_at: str = "2025-01-31T02:00:00+00:00",
    ) -> Path:
        folder = self.root / suite
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "suite.json").write_text(json.dumps({"name": suite, "design": "one_at_a_time"}))
        for variant, seeds in values.items():
            for seed, (fid, steps_per_s) in seeds.items():
                job_id = f"{variant[:6]}{seed}{finished_at[-14:-12]}"
                status = (statuses or {}).get((variant, seed), "ok")
                record = {
                    "job_id": job_id,
                    "suite": suite,
                    "variant": variant,
                    "seed": seed,
                    "config": config_of(variant),
                    "status": status,
                    "metrics": {"fid": fid, "isc": 2.0} if status == "ok" else {},
                    "metric_provenance": metric or METRIC,
                    "steps_per_s": steps_per_s,
                    "wall_time_s": 60.0,
                    "device": device,
                    "versions": {"gan-bench": "0.1.0", "torch": "2.14.1"},
                    "finished_at": finished_at,
                }
                (folder / job_id).mkdir(exist_ok=True)
                (folder / job_id / "result.json").write_text(json.dumps(record))
        return self.root


@pytest.fixture
def result_set(tmp_path: Path) -> ResultSet:
    return ResultSet(tmp_path / "results")


@pytest.fixture
def synthetic() -> Callable[..., dict[str, dict[int, tuple[float, float]]]]:
    """`synthetic(seed, fid_scale={...}, speed_scale={...})`: one draw of a nightly run."""
    return lambda seed=0, **scales: draw(np.random.default_rng(seed), **scales)


@pytest.fixture
def make_run() -> Callable[..., RunSnapshot]:
    """`make_run(values)`: a run snapshot in memory (no files), from `synthetic(...)`."""
    return in_memory
