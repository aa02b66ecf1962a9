"""Synthetic results directories, laid out exactly as `bench.run.store.results` writes them."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)
from PIL import Image

from bench.atomic import atomic_write_json
from bench.report.trends import HISTORY_FILE
from bench.run.store.results import RESULT_FILE, ResultsStore, job_digests

PROVENANCE = {
    "backbone": "domain",
    "backbone_version": "domain-abc123",
    "reference_split": "test",
    "num_generated": 2000,
    "num_reference": 10000,
    "eval_seed": 0,
    "dataset_version": "digits-1",
}
HISTORY_STEPS = (25, 50, 75, 100)


def png_bytes(shade: int = 128) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), shade).save(buffer, format="png")
    return buffer.getvalue()


class ResultsBuilder:
    """Writes `suite.json` and per-job `result.json` / `history.csv` / `samples.png`."""

    TUNING_DISTRIBUTIONS = {
        "train.lr_d": distribution_to_json(FloatDistribution(1e-5, 1e-2, log=True)),
        "train.d_steps": distribution_to_json(IntDistribution(1, 4)),
        "train.g_steps": distribution_to_json(CategoricalDistribution([1, 2])),
    }

    def __init__(self, root: Path) -> None:
        self.root = root

    def suite(
        self,
        name: str,
        design: str = "one_at_a_time",
        reference: str = "baseline",
        description: str = "a synthetic suite",
        tricks: tuple[str, ...] = (),
    ) -> None:
        meta = {
            "name": name,
            "description": description,
            "design": design,
            "reference_variant": reference,
            "seeds": [0, 1, 2],
            "ablated_tricks": list(tricks),
            "source_file": f"suites/{name}.toml",
            "source_text": f'[suite]\nname = "{name}"\ndescription = "{description}"\n',
            "overrides": [],
        }
        (self.root / name).mkdir(parents=True, exist_ok=True)
        (self.root / name / "suite.json").write_text(json.dumps(meta))

    def job(
        self,
        suite: str,
        variant: str,
        seed: int,
        metrics: dict[str, float] | None = None,
        *,
        status: str = "ok",
        diverged_at: int | None = None,
        events: list[dict[str, Any]] | None = None,
        factors: dict[str, str] | None = None,
        tricks: dict[str, dict[str, Any]] | None = None,
        provenance: dict[str, Any] | None = None,
        files: bool = True,
        history_fid: bool = False,
        extra: dict[str, Any] | None = None,
        evaluations: list[dict[str, float]] | None = None,
    ) -> str:
        job_id = hashlib.sha256(f"{suite}/{variant}/{seed}".encode()).hexdigest()[:12]
        events = events or []
        record = {
            "job_id": job_id,
            "suite": suite,
            "variant": variant,
            "seed": seed,
            "factors": factors or {},
            "config": {
                "data": {"name": "digits", "root": None},
                "model": {"name": "dcgan", "latent_dim": 64},
                "train": {"steps": 100, "lr_g": 2e-4},
                "eval": {"metrics": ["fid", "isc"], "num_samples": 2000},
                "tricks": tricks or {},
            },
            "status": status,
            "diverged_at": diverged_at,
            "reason": events[-1]["detail"] if status == "diverged" else None,
            "events": events,
            "metrics": metrics or {},
            "metric_provenance": {**PROVENANCE, **(provenance or {})},
            "steps_completed": diverged_at or 100,
            "train_time_s": 2.0 + seed,
            "eval_time_s": 0.5,
            "wall_time_s": 2.5 + seed,
            "steps_per_s": 50.0,
            "device": "cpu (x86_64)",
            "versions": {"gan-bench": "0.1.0", "torch": "2.5.0", "python": "3.11"},
            "finished_at": "2025-01-01T00:00:00+00:00",
            **(extra or {}),
        }
        if evaluations is not None:
            record["evaluations"] = evaluations
        folder = self.root / suite / job_id
        folder.mkdir(parents=True, exist_ok=True)
        if files:
            self._history(folder, seed, diverged_at, history_fid)
            (folder / "samples.png").write_bytes(png_bytes(40 * (seed % 5)))
        record["digests"] = job_digests(folder)
        (folder / "result.json").write_text(json.dumps(record))
        return job_id

    @staticmethod
    def _history(folder: Path, seed: int, diverged_at: int | None, fid: bool) -> None:
        steps = [s for s in HISTORY_STEPS if diverged_at is None or s <= diverged_at]
        header = "step,d_loss,g_loss,d_real,d_fake,d_grad_norm,g_grad_norm,d_loss_var"
        header += ",d_grad_norm_max,g_grad_norm_max" + (",fid" if fid else "")
        lines = [header]
        for step in steps:
            row = [step, 1.2 - step / 200, 0.8 + step / 300 + seed / 10, 0.6, 0.4]
            row += [1.0 + seed, 2.0, 0.01, 3.0, 4.0] + ([100 / step] if fid else [])
            lines.append(",".join(map(str, row)))
        (folder / "history.csv").write_text("\n".join(lines) + "\n")

    def planted(
        self,
        suite: str,
        means: dict[str, float],
        seeds: int = 8,
        sd: float = 1.0,
        rng: np.random.Generator | None = None,
        metric: str = "fid",
        **job: Any,
    ) -> None:
        """A suite whose variants' `metric` is Normal(mean, sd) over `seeds` seeds."""
        rng = rng or np.random.default_rng(0)
        self.suite(suite)
        for variant, mean in means.items():
            for seed in range(seeds):
                self.job(suite, variant, seed, {metric: float(rng.normal(mean, sd))}, **job)

    def trials(self, trials: list[tuple[str, int, str, float, float, int, int]]) -> None:
        """Trial records of suite `s.trials` as `bench tune` writes them: (variant, trial,
        state, value, lr_d, d_steps, g_steps)."""
        store = ResultsStore(self.root)
        store.write_suite("s.trials", {"name": "s.trials", "design": "tune"})
        for variant, number, state, value, lr_d, d_steps, g_steps in trials:
            params = {"train.lr_d": lr_d, "train.d_steps": d_steps, "train.g_steps": g_steps}
            record = {
                "job_id": f"{variant}-{number}",
                "suite": "s.trials",
                "variant": variant,
                "seed": 0,
                "status": "pruned" if state == "pruned" else "ok",
                "config": {"train": {"d_steps": d_steps, "g_steps": g_steps, "lr_d": lr_d}},
                "metrics": {"fid": value},
                "digests": {},
                "tuning": {
                    "study": f"s.{variant}",
                    "trial": number,
                    "state": state,
                    "metric": "fid",
                    "value": value,
                    "params": params,
                    "distributions": self.TUNING_DISTRIBUTIONS,
                },
            }
            atomic_write_json(store.job_dir("s.trials", record["job_id"]) / RESULT_FILE, record)


@pytest.fixture
def results(tmp_path: Path) -> ResultsBuilder:
    return ResultsBuilder(tmp_path / "results")


@pytest.fixture(scope="session")
def results_builder() -> type[ResultsBuilder]:
    """The builder class, for module-scoped fixtures that make their own folder."""
    return ResultsBuilder


def history_line(night: int, variant: str, figure: str, value: float, regressed: bool) -> dict:
    change = value / 20 - 1
    return {
        "recorded_at": f"2025-02-0{night}T02:00:00+00:00",
        "suite": "labels",
        "variant": variant,
        "figure": figure,
        "unit": "FID",
        "value": value,
        "baseline": 20.0,
        "change": change,
        "ci_low": change - 0.1,
        "ci_high": change + 0.1,
        "seeds": 5,
        "verdict": "REGRESSED" if regressed else "ok",
        "regressed": regressed,
        "commit": f"{night}abcdef0123456789",
        "device": "NVIDIA H100 80GB HBM3",
        "backbone": "domain",
        "backbone_version": "domain-abc123",
    }


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A `bench regress --history` file of suite `labels`: 3 nights, one regression."""
    lines = []
    for night in (1, 2, 3):
        for variant in ("baseline", "smoothing"):
            worse = (night, variant) == (3, "smoothing")
            lines.append(
                history_line(night, variant, "fid", 40.0 if worse else 20.0 + night, worse)
            )
            lines.append(history_line(night, variant, "steps_per_s", 150.0, False))
    path = tmp_path / HISTORY_FILE
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path
