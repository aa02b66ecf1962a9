from __future__ import annotations

import math

import pytest
import torch

from bench.config import EvalConfig
from bench.metrics import evaluate, mode_metrics
from bench.metrics.modes import min_samples_per_mode


def mixture_sampler(modes: torch.Tensor, std: float, use: list[int]):
    """Draws around the modes listed in `use`, seeded per call."""

    def generate(n: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        which = torch.tensor(use)[torch.randint(len(use), (n,), generator=generator)]
        return modes[which] + std * torch.randn(n, 2, generator=generator)

    return generate


def test_all_modes_are_covered_by_a_sampler_of_the_mixture(ring):
    samples = mixture_sampler(ring.modes, ring.mode_std, list(range(8)))(2000)
    scores = mode_metrics(samples, ring.modes, ring.mode_std)
    assert scores["modes_covered"] == 8
    assert scores["modes_total"] == 8
    assert scores["high_quality_fraction"] > 0.98  # 1 - exp(-9/2) = 0.989 in 2-D
    assert scores["mode_kl"] < 0.01  # about (8 - 1) / (2 * 2000) by chance


def test_a_collapsed_sampler_covers_only_its_modes(ring):
    samples = mixture_sampler(ring.modes, ring.mode_std, [0, 3, 5])(2000)
    assert mode_metrics(samples, ring.modes, ring.mode_std)["modes_covered"] == 3


def test_far_off_and_nan_points_are_not_high_quality(ring):
    samples = torch.cat([10 + torch.randn(999, 2), torch.full((1, 2), float("nan"))])
    scores = mode_metrics(samples, ring.modes, ring.mode_std)
    assert scores["high_quality_fraction"] == 0
    assert scores["modes_covered"] == 0
    assert scores["mode_kl"] == pytest.approx(math.log(8))


def test_pacgan_rule_needs_20_high_quality_samples_per_2500(ring):
    assert min_samples_per_mode(2500) == 20
    assert min_samples_per_mode(1000) == 8
    assert min_samples_per_mode(50) == 1
    one_mode = mixture_sampler(ring.modes, ring.mode_std, [0])(2500)
    stray = ring.modes[1:2]  # a single sample exactly on mode 1
    scores = mode_metrics(torch.cat([one_mode[:-1], stray]), ring.modes, ring.mode_std)
    assert scores["modes_covered"] == 1  # one stray sample is not coverage
    assert scores["mode_kl"] == pytest.approx(math.log(8), abs=0.01)
    few = torch.cat([one_mode[:-19], ring.modes[1:2].expand(19, 2)])
    assert mode_metrics(few, ring.modes, ring.mode_std)["modes_covered"] == 1  # 19 < 20
    enough = torch.cat([one_mode[:-20], ring.modes[1:2].expand(20, 2)])
    assert mode_metrics(enough, ring.modes, ring.mode_std)["modes_covered"] == 2


def test_evaluate_dispatches_toy_datasets_to_mode_metrics(ring):
    cfg = EvalConfig(num_samples=500, seed=3)
    result = evaluate(
        mixture_sampler(ring.modes, ring.mode_std, [1, 2]), ring, cfg, torch.device("cpu")
    )
    assert result.values["modes_covered"] == 2
    assert result.provenance["num_generated"] == 500
    assert result.provenance["eval_seed"] == 3
    assert result.provenance["dataset_version"] == "test-v1"
