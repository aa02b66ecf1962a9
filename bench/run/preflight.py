"""What is checked before any job of a run starts; `bench run --dry-run` runs the same checks.

- Every dataset the jobs use is loaded and checked against what it declares
  (`bench.data.loading`): a loader that fails or returns malformed data is named here, never
  blamed on the model that would have crashed on it later.
- Every model is built once per dataset on the CPU, built-ins too, and run forward on a tiny
  batch: G must return samples of the data's shape, D one logit per sample
  (`bench.models.registry.check_networks`).
- Every variant's tricks are set up as training sets them up (`setup`, `prepare_data` on a
  batch, the nets' rewrites, the optimisers) on fresh nets, so a trick that cannot rewrite
  these nets or take this batch size fails here, naming the variant.

`prepare_backbones` then trains the domain backbones the jobs will be scored with, once, not
once per worker, and returns a warning for each whose test accuracy is too near chance for
its metrics to be trusted (`bench.metrics.reliability`); a dry run leaves that out (it can
take minutes) and so cannot say whether a backbone trains well, only everything above.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import torch

from bench.config import DataConfig, JobConfig
from bench.data import Dataset, load_dataset
from bench.errors import BenchError, ConfigError, DataError
from bench.expand import Job
from bench.metrics import prepare_backbone
from bench.metrics.reliability import Reliability, judge
from bench.models.registry import check_networks, model_spec
from bench.train.loop import GANStep
from bench.tricks.registry import TrainContext, build_tricks

CPU = torch.device("cpu")


def preflight(jobs: Iterable[Job], where: str | Path | None = None) -> list[str]:
    """`check_jobs`, then `prepare_backbones`: everything a run needs before its first job;
    returns the warnings to print before it starts."""
    jobs = list(jobs)
    check_jobs(jobs, where)
    return prepare_backbones(jobs, where)


def check_jobs(jobs: Iterable[Job], where: str | Path | None = None) -> None:
    """Load every dataset, build and run every model on it, set up every variant's tricks.

    Errors begin with `where` (the suite file) and name the dataset, model or variant.
    """
    jobs = list(jobs)
    for data, model in {(job.config.data, job.config.model) for job in jobs}:
        dataset = _load_named(data, where)
        check_networks(model_spec(model.arch), model, dataset.shape, dataset.num_classes)
    variants = {_canonical(job.config): job for job in jobs}
    for job in variants.values():
        check_variant(job, _load_named(job.config.data, where), _in(where, job.variant))


def prepare_backbones(jobs: Iterable[Job], where: str | Path | None = None) -> list[str]:
    """Train (or find cached) the domain backbones the jobs are scored with; returns one
    warning line per dataset whose backbone is unreliable (near chance)."""
    warnings: set[str] = set()
    for data, evaluation in {(job.config.data, job.config.eval) for job in jobs}:
        dataset = _load_named(data, where)
        backbone = prepare_backbone(dataset, evaluation)
        if backbone is None:
            continue
        judged = judge(backbone.test_accuracy, backbone.num_classes)
        if judged is not None and not judged.reliable:
            warnings.add(backbone_warning(dataset.name, judged))
    return sorted(warnings)


def backbone_warning(dataset: str, judged: Reliability) -> str:
    """The line `bench run` prints for a near-chance domain backbone."""
    return (
        f"WARNING: dataset '{dataset}': its domain backbone is near chance ({judged.describe()}); "
        "FID, KID and the other metrics on its features are unreliable, and the report marks "
        "them so (docs/metrics.md)"
    )


def check_variant(job: Job, dataset: Dataset, where: str) -> None:
    """Set up `job`'s tricks and nets as training does, on a batch of `dataset`, on the CPU.

    Runs on an RNG of its own: the caller's random streams are left where they were.
    """
    config, tricks = job.config, build_tricks(job.tricks)
    batch = config.train.batch_size
    labels = None if dataset.train_labels is None else dataset.train_labels[:batch]
    with torch.random.fork_rng(devices=[]):
        ctx = TrainContext(
            device=CPU,
            rng=torch.Generator().manual_seed(0),
            total_steps=config.train.steps,
            batch_size=batch,
            latent_dim=config.model.latent_dim,
            data_shape=dataset.shape,
            num_classes=dataset.num_classes if labels is not None else None,
        )
        try:
            data = dataset.train[:batch]
            for trick in tricks:
                trick.setup(ctx)
            for trick in tricks:
                data = trick.prepare_data(data, ctx)
            GANStep(config, data, tricks, ctx, labels)
        except BenchError as err:
            raise type(err)(f"{where}: {err}") from None
        except Exception as err:  # a trick or plugin may raise anything: name the variant
            names = ", ".join(f"'{trick.name}'" for trick in tricks)
            raise ConfigError(
                f"{where}: its tricks ({names}) could not be set up on model "
                f"'{config.model.arch}': {type(err).__name__}: {err}"
            ) from None


def _canonical(config: JobConfig) -> str:
    return json.dumps(config.model_dump(mode="json"), sort_keys=True)


def _in(where: str | Path | None, variant: str) -> str:
    return f"{where}: variant '{variant}'" if where else f"variant '{variant}'"


def _load_named(data: DataConfig, where: str | Path | None) -> Dataset:
    """`load_dataset`, its errors naming the suite file `where`."""
    try:
        return load_dataset(data)
    except DataError as err:
        raise DataError(f"{where}: {err}" if where else str(err)) from None
