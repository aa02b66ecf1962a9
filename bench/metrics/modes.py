"""Mode coverage and sample quality for 2-D Gaussian mixtures (ring, grid).

The mixtures are Unrolled GAN's benchmark (Metz et al. 2017); the counting protocol is
VEEGAN's (Srivastava et al. 2017) with PacGAN's coverage rule (Lin et al. 2018, sec. 5.1):
each sample is assigned to its nearest mode and is high quality if it lies within 3 standard
deviations of it; a mode is covered only if at least 20 high-quality samples of 2,500 are
assigned to it (a mode with fewer is "lost"), so a few stray samples are not coverage. The
count scales with the number of samples: ceil(20 / 2500 * N) (`min_samples_per_mode`).

Beside the count: `high_quality_fraction` (of all samples) and `mode_kl`, the KL divergence
in nats of the high-quality samples' mode histogram to the uniform one (VEEGAN's and PacGAN's
reverse-KL column; 0 for a balanced mixture, log K when all samples sit on one mode, and
log K as well when no sample is high quality).
"""

from __future__ import annotations

import math
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
PACGAN_MIN_SAMPLES = 20  # high-quality samples a mode needs ...
PACGAN_SAMPLES = 2500  # ... of this many (Lin et al. 2018, sec. 5.1)


def min_samples_per_mode(num_samples: int) -> int:
    """PacGAN's 20 high-quality samples per 2,500, scaled to `num_samples` (at least 1)."""
    return max(1, math.ceil(PACGAN_MIN_SAMPLES * num_samples / PACGAN_SAMPLES))


def mode_metrics(
    samples: Tensor, modes: Tensor, std: float, min_samples: int | None = None
) -> dict[str, float]:
    """`modes_covered`, `modes_total`, `high_quality_fraction` and `mode_kl` of samples [N, 2].

    A mode is covered with at least `min_samples` high-quality samples (None: PacGAN's rule
    for this many samples, `min_samples_per_mode`).
    """
    if samples.dim() != 2 or modes.dim() != 2 or samples.shape[1] != modes.shape[1]:
        raise MetricsError(
            f"mode metrics need samples [N, D] and modes [K, D]; got {tuple(samples.shape)} "
            f"and {tuple(modes.shape)}"
        )
    if min_samples is None:
        min_samples = min_samples_per_mode(len(samples))
    distances = torch.cdist(samples.double(), modes.double())
    nearest_distance, nearest_mode = distances.min(dim=1)
    high_quality = nearest_distance < HIGH_QUALITY_STDS * std  # False for NaN samples
    counts = torch.bincount(nearest_mode[high_quality], minlength=len(modes))
    return {
        "modes_covered": float((counts >= min_samples).sum()),
        "modes_total": float(len(modes)),
        "high_quality_fraction": high_quality.double().mean().item(),
        "mode_kl": kl_to_uniform(counts),
    }


def kl_to_uniform(counts: Tensor) -> float:
    """KL(histogram || uniform) in nats over the bins of `counts`; log K for an empty one."""
    total = counts.sum()
    if total == 0:
        return math.log(len(counts))
    p = counts[counts > 0].double() / total
    return (p * (p * len(counts)).log()).sum().item()


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
        "min_samples_per_mode": min_samples_per_mode(len(samples)),
    }
    return MetricsResult(values, provenance)
