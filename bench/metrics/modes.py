"""Mode coverage and sample quality for 2-D Gaussian mixtures (ring, grid).

The mixtures are Unrolled GAN's benchmark (Metz et al. 2017); the counting protocol is
VEEGAN's (Srivastava et al. 2017), reused by PacGAN (Lin et al. 2018): each sample is assigned
to its nearest mode and is high quality if it lies within 3 standard deviations of it; a mode
is covered if at least one high-quality sample is assigned to it (`MIN_SAMPLES_PER_MODE = 1`,
as in PacGAN's released evaluation code, which counts modes with a nonzero such count).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from bench.config import EvalConfig
from bench.errors import MetricsError
from bench.metrics.result import MetricsResult

if TYPE_CHECKING:
    from bench.data.base import Dataset

HIGH_QUALITY_STDS = 3.0
MIN_SAMPLES_PER_MODE = 1


def mode_metrics(
    samples: Tensor, modes: Tensor, std: float, min_samples_per_mode: int = MIN_SAMPLES_PER_MODE
) -> dict[str, float]:
    """`modes_covered`, `modes_total` and `high_quality_fraction` of samples [N, 2]."""
    if samples.dim() != 2 or modes.dim() != 2 or samples.shape[1] != modes.shape[1]:
        raise MetricsError(
            f"mode metrics need samples [N, D] and modes [K, D]; got {tuple(samples.shape)} "
            f"and {tuple(modes.shape)}"
        )
    distances = torch.cdist(samples.double(), modes.double())
    nearest_distance, nearest_mode = distances.min(dim=1)
    high_quality = nearest_distance < HIGH_QUALITY_STDS * std  # False for NaN samples
    counts = torch.bincount(nearest_mode[high_quality], minlength=len(modes))
    return {
        "modes_covered": float((counts >= min_samples_per_mode).sum()),
        "modes_total": float(len(modes)),
        "high_quality_fraction": high_quality.double().mean().item(),
    }


def evaluate_toy(
    generate: Callable[[int], Tensor], dataset: Dataset, cfg: EvalConfig
) -> MetricsResult:
    """Mode metrics of `cfg.num_samples` points from `generate(n)` (seeded by the caller)."""
    if dataset.modes is None or dataset.mode_std is None:
        raise MetricsError(f"dataset '{dataset.name}' declares no mixture modes to count")
    samples = generate(cfg.num_samples).detach().cpu()
    values = mode_metrics(samples, dataset.modes, dataset.mode_std)
    provenance = {
        "backbone": None,
        "backbone_version": None,
        "backbone_test_accuracy": None,
        "dataset": dataset.name,
        "dataset_version": dataset.version,
        "reference_split": None,
        "num_generated": len(samples),
        "num_reference": None,
        "eval_seed": cfg.seed,
        "high_quality_stds": HIGH_QUALITY_STDS,
        "min_samples_per_mode": MIN_SAMPLES_PER_MODE,
    }
    return MetricsResult(values, provenance)
