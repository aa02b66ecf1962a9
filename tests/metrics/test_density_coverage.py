from __future__ import annotations

import pytest
import torch
import torch_fidelity.utils

from bench.config import EvalConfig
from bench.metric_registry import metric
from bench.metrics import evaluate
from bench.metrics.density_coverage import density_coverage


def points(*xs: float) -> torch.Tensor:
    return torch.tensor(xs).unsqueeze(1)


def test_a_hand_computed_example():
    # Real 0, 1, 2, 3. k = 1: every radius is 1; 0.5 lies in the balls of 0 and 1, 10 in none.
    real, fake = points(0, 1, 2, 3), points(0.5, 10)
    assert density_coverage(fake, real, k=1) == {"density": 2 / (1 * 2), "coverage": 2 / 4}
    # k = 2: radii 2, 1, 1, 2; 0.5 is within 2 of 0 and within 1 of 1 (2.5 from 3 is not < 2).
    assert density_coverage(fake, real, k=2) == {"density": 2 / (2 * 2), "coverage": 2 / 4}


def test_identical_sets_have_coverage_1_and_density_1():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    # Each ball holds its centre and k - 1 neighbours: N k hits over k N.
    assert density_coverage(x, x) == {"density": pytest.approx(1.0), "coverage": 1.0}


def test_two_draws_of_one_distribution_score_near_1():
    generator = torch.Generator().manual_seed(0)
    real, fake = torch.randn(2, 1000, 4, generator=generator)
    scores = density_coverage(fake, real)
    assert scores["density"] == pytest.approx(1.0, abs=0.1)
    assert scores["coverage"] > 0.9  # about 1 - 2^-5 for M = N (Naeem et al. 2020)


def test_far_disjoint_sets_score_0_and_a_dropped_half_halves_coverage():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(400, 2, generator=generator)
    assert density_coverage(real + 100, real) == {"density": 0.0, "coverage": 0.0}
    half = real[real[:, 0] > 0]
    assert density_coverage(half, real)["coverage"] == pytest.approx(len(half) / 400, abs=0.05)


def test_scored_through_eval_metrics_on_the_backbone_features(digits, isolated_cache):
    assert metric("density").direction == metric("coverage").direction == 1
    cfg = EvalConfig(metrics=("density_coverage",), num_samples=300, backbone="domain")
    real = evaluate(lambda n: digits.train[:n], digits, cfg, torch.device("cpu"), isolated_cache)
    assert {"density", "coverage"} <= set(real.values) and "fid" not in real.values
    assert real.values["coverage"] > 0.6 and real.values["density"] > 0.7
    noise = evaluate(
        lambda n: torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1,
        digits,
        cfg,
        torch.device("cpu"),
        isolated_cache,
    )
    assert noise.values["coverage"] < 0.2 and noise.values["density"] < 0.2


def test_shares_the_reference_features_precision_recall_cached(digits, isolated_cache, monkeypatch):
    extract, calls = torch_fidelity.utils.extract_featuresdict_from_input_id, []

    def counting_extract(input_id, *args, **kwargs):
        calls.append(input_id)  # 1: generated, 2: reference
        return extract(input_id, *args, **kwargs)

    monkeypatch.setattr(
        torch_fidelity.utils, "extract_featuresdict_from_input_id", counting_extract
    )
    cfg = EvalConfig(
        metrics=("prc", "density_coverage"),
        num_samples=200,
        reference_samples=210,
        backbone="domain",
    )
    result = evaluate(lambda n: digits.train[:n], digits, cfg, torch.device("cpu"), isolated_cache)
    assert calls == [1, 2, 1]
    assert {"precision", "recall", "density", "coverage"} <= set(result.values)
