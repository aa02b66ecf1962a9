"""Scores of generated samples: torch-fidelity metrics for images (with class or stacked-MNIST
mode coverage for labelled ones), mode metrics for 2-D toys. See docs/metrics.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from bench.config import DataConfig, EvalConfig
from bench.metrics.backbones import STACKED_DATASETS, domain_backbone
from bench.metrics.cache import default_cache_dir
from bench.metrics.fidelity import RESULT_KEYS, backbone_choice, evaluate_images
from bench.metrics.modes import evaluate_toy, mode_metrics
from bench.metrics.result import MetricsResult

if TYPE_CHECKING:
    from bench.data.base import Dataset

__all__ = [
    "MetricsResult",
    "default_cache_dir",
    "evaluate",
    "evaluate_images",
    "evaluate_toy",
    "mode_metrics",
    "prepare_backbone",
    "scored_metrics",
]

# The comparable values each kind of scoring records (beside counts and standard deviations).
TOY_METRICS = ("modes_covered", "high_quality_fraction", "kl_to_uniform")
STACKED_METRICS = ("modes_covered", "kl_to_uniform")
CLASS_METRICS = ("class_coverage", "class_kl_to_real")
SPREADS = ("isc_std", "kid_std")


def scored_metrics(data: DataConfig, cfg: EvalConfig, capabilities: frozenset[str]) -> list[str]:
    """The comparable values a job on `data` scored under `cfg` records (what a suite's
    `primary_metric` and `expect.*.metric` may name). `capabilities` as `dataset_capabilities`."""
    if "toy2d" in capabilities:
        return list(TOY_METRICS)
    names = [n for m in cfg.metrics for n in RESULT_KEYS[m] if n not in SPREADS]
    if "labels" in capabilities:
        names += STACKED_METRICS if data.name in STACKED_DATASETS else CLASS_METRICS
    return names


def evaluate(
    generate: Callable[[int], Tensor],
    dataset: Dataset,
    cfg: EvalConfig,
    device: torch.device,
    cache_dir: Path | str | None = None,
) -> MetricsResult:
    """Score `generate(n)` against `dataset`: mode metrics for 2-D toys, else image metrics."""
    if dataset.kind == "toy2d":
        return evaluate_toy(generate, dataset, cfg)
    return evaluate_images(generate, dataset, cfg, device, cache_dir)


def prepare_backbone(
    dataset: Dataset, cfg: EvalConfig, cache_dir: Path | str | None = None
) -> None:
    """Train and cache the domain backbone that scoring `dataset` under `cfg` will use.

    Called once before a suite's workers start, so that parallel jobs load one cached
    backbone instead of each training the same one (and so that an unusable backbone, e.g.
    a domain backbone for unlabelled data, fails before any job runs).
    """
    if dataset.kind != "image":
        return
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    choice, _ = backbone_choice(cfg, dataset, cache)
    if choice == "domain":
        domain_backbone(dataset, cache)
