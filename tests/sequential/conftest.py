"""A sequential ring-of-8 suite and an executor that writes planted results instead of
training, so the stage logic is tested on known effects in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.atomic import atomic_write_json
from bench.provenance import code_fingerprint
from bench.run.store.results import RESULT_FILE
from bench.run.suite import RunSummary

RING_SUITE = """
[suite]
name = "ringseq"
design = "variants"
seeds = {{ start = 8, step = 2, max = 12 }}
spending = "pocock"
{extra}

[base.data]
name = "ring8"
toy_samples = 1000

[base.model]
arch = "mlp"
latent_dim = 4
mlp_hidden = 16
mlp_layers = 2

[base.train]
steps = {steps}
batch_size = 64
log_every = 10

[base.eval]
num_samples = 200

[variants.dead]
set = {{ "train.lr_d" = 1.0, "train.lr_g" = 1.0 }}

[variants.placebo]
set = {{ "train.log_every" = 5 }}
"""


@pytest.fixture
def ring_suite(tmp_path: Path) -> Callable[..., Path]:
    """`ring_suite(extra=..., steps=30)`: the suite file (`extra`: more `[suite]` lines)."""

    def write(extra: str = 'primary_metric = "modes_covered"', steps: int = 30) -> Path:
        path = tmp_path / "ringseq.toml"
        path.write_text(RING_SUITE.format(extra=extra, steps=steps))
        return path

    return write


def planted(variant: str, seed: int) -> float:
    """Modes covered: the dead config loses every mode, the placebo is the baseline +-0.1."""
    if variant == "dead":
        return 0.0
    return 6.0 + (seed % 3) * 0.5 + (0.1 * (-1) ** seed if variant == "placebo" else 0.0)


class PlantedExecutor:
    """Stands in for `run_jobs`: writes a finished result with `values(variant, seed)` for
    each job not yet finished (or fails the jobs in `fail`), and remembers what it 'trained'."""

    def __init__(self, values: Callable[[str, int], float] = planted) -> None:
        self.values, self.trained, self.fail = values, [], set()
        self.metric = "modes_covered"  # no default margin: a suite declares one

    def __call__(self, jobs, store, options) -> RunSummary:
        summary = RunSummary(len(jobs), 0)
        for job in jobs:
            if store.is_finished(job.suite, job.id):
                summary.skipped += 1
                continue
            if (job.variant, job.seed) in self.fail:
                summary.statuses["failed"] += 1
                summary.failed.append(str(store.job_dir(job.suite, job.id) / "error.txt"))
                continue
            record = {
                **job.record(),
                "status": "ok",
                "metrics": {self.metric: self.values(job.variant, job.seed)},
                "fingerprint": code_fingerprint(),
                "finished_at": datetime.now(UTC).isoformat(),
            }
            atomic_write_json(store.job_dir(job.suite, job.id) / RESULT_FILE, record)
            summary.statuses["ok"] += 1
            self.trained.append((job.variant, job.seed))
        return summary


@pytest.fixture
def planted_executor(monkeypatch: pytest.MonkeyPatch) -> PlantedExecutor:
    executor = PlantedExecutor()
    monkeypatch.setattr("bench.sequential.runner.run_jobs", executor)
    return executor
