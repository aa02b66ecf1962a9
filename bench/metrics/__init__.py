"""Scores of generated samples: torch-fidelity metrics for images (with class or stacked-MNIST
mode coverage for labelled ones), mode metrics for 2-D toys. See docs/metrics.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from bench.config import DataConfig, EvalConfig
from bench.metric_registry import LABELS, STACKED, TOY2D, requested, scored_in
from bench.metrics.backbones import STACKED_DATASETS, Backbone, domain_backbone
from bench.metrics.cache import default_cache_dir, resolve_cache_dir
from bench.metrics.fidelity import KID_SUBSETS, backbone_choice, evaluate_images
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


def scored_metrics(data: DataConfig, cfg: EvalConfig, capabilities: frozenset[str]) -> list[str]:
    """The comparable values a job on `data` scored under `cfg` records (what a suite's
    `primary_metric` and `expect.*.metric` may name). `capabilities` as `dataset_capabilities`."""
    if "toy2d" in capabilities:
        return [m.name for m in scored_in(TOY2D) if m.comparable]
    names = [m.name for m in requested(cfg.metrics) if m.comparable]
    if "labels" in capabilities:
        scope = STACKED if data.name in STACKED_DATASETS else LABELS
        names += [m.name for m in scored_in(scope) if m.comparable]
    return names


def evaluate(
    generate: Callable[[int], Tensor],
    dataset: Dataset,
    cfg: EvalConfig,
    device: torch.device,
    cache_dir: Path | str | None = None,
    kid_subsets: int = KID_SUBSETS,
) -> MetricsResult:
    """Score `generate(n)` against `dataset`: mode metrics for 2-D toys, else image metrics
    (backbones and reference features cached under `cache_dir`, default `default_cache_dir()`;
    KID averaged over `kid_subsets` random subsets).
    """
    if dataset.kind == "toy2d":
        return evaluate_toy(generate, dataset, cfg)
    cache = resolve_cache_dir(cache_dir)
    return evaluate_images(generate, dataset, cfg, device, cache, kid_subsets)


def prepare_backbone(
    dataset: Dataset, cfg: EvalConfig, cache_dir: Path | str | None = None
) -> Backbone | None:
    """Train and cache the domain backbone that scoring `dataset` under `cfg` will use, and
    return it (None when the jobs are not scored on a domain backbone).

    Called once before a suite's workers start, so that parallel jobs load one cached
    backbone instead of each training the same one (and so that an unusable backbone, e.g.
    a domain backbone for unlabelled data, fails before any job runs).
    """
    if dataset.kind != "image":
        return None
    cache = resolve_cache_dir(cache_dir)
    choice, _ = backbone_choice(cfg, dataset, cache)
    return domain_backbone(dataset, cache) if choice == "domain" else None
