"""Proofs that the image metrics measure what they claim (issue 4, "Validity proofs").

Measured numbers for these settings are in docs/metrics.md (`python -m bench.metrics.validity`).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from bench.config import DataConfig, EvalConfig, ModelConfig
from bench.data import load_dataset
from bench.metrics import backbones, evaluate
from bench.metrics.backbones import channel_digits
from bench.metrics.disturbances import LEVELS
from bench.metrics.validity import disturbance_scores, fixed_images, seed_spread
from bench.models.build import build_models

CPU = torch.device("cpu")
# 500 generated vs 200 reference images: KID's 100 subsets of 200 keep 25 evaluations in seconds.
SMALL = EvalConfig(
    metrics=("fid", "kid"), num_samples=500, reference_samples=200, backbone="domain"
)
# Measured spreads over seeds 0-4 (docs/metrics.md): FID 0.17 and KID 0.011 on this split,
# FID 0.61 and KID 0.019 on the `digits` dataset's own split.
SEED_SPREAD_BOUND = {"fid": 1.0, "kid": 0.03}


def untrained_dcgan(n: int) -> torch.Tensor:
    """Samples of the harness's own DCGAN generator for 8x8 digits, before any training."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        generator, _ = build_models(ModelConfig(latent_dim=32, g_width=32, d_width=32), (1, 8, 8))
        with torch.no_grad():
            return generator.eval()(torch.randn(n, 32))


def test_two_real_splits_score_near_zero_and_far_below_an_untrained_generator(
    digits, isolated_cache
):
    cfg = EvalConfig(metrics=("fid", "kid"), num_samples=1000, backbone="domain")
    real = evaluate(fixed_images(digits.train), digits, cfg, CPU, isolated_cache).values
    untrained = evaluate(untrained_dcgan, digits, cfg, CPU, isolated_cache).values
    assert real["fid"] < 2 and real["fid"] < untrained["fid"] / 20
    assert abs(real["kid"]) < 0.02 and real["kid"] < untrained["kid"] / 20


@pytest.fixture(scope="module")
def disturbed(digits, isolated_cache) -> dict[str, list[dict[str, float]]]:
    return disturbance_scores(digits, SMALL, isolated_cache)


@pytest.mark.parametrize("name", sorted(LEVELS))
@pytest.mark.parametrize("metric", ["fid", "kid"])
def test_scores_grow_with_each_disturbance_of_heusel_et_al(disturbed, name, metric):
    scores = [row[metric] for row in disturbed[name]]
    assert len(scores) >= 5  # undisturbed and four levels
    assert all(low < high for low, high in itertools.pairwise(scores)), scores


def test_the_same_seed_repeats_exactly_and_other_seeds_differ_a_little(digits, isolated_cache):
    rows = seed_spread(digits, SMALL, range(5), isolated_cache)
    assert seed_spread(digits, SMALL, range(1), isolated_cache) == rows[:1]
    for metric, bound in SEED_SPREAD_BOUND.items():
        values = [row[metric] for row in rows]
        assert 0 < max(values) - min(values) < bound, values


@pytest.fixture(scope="module")
def stacked_mnist(mnist_root):
    """Stacked MNIST at 16 px, its digit classifier capped at 300 steps to train in seconds
    while the module's tests run (the full recipe's accuracy is in docs/metrics.md)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(backbones, "TRAIN_MAX_STEPS", 300)
        yield load_dataset(DataConfig(name="stacked_mnist", root=str(mnist_root), image_size=16))


def test_stacked_mnist_real_data_covers_nearly_all_1000_modes(stacked_mnist, isolated_cache):
    digits, _ = channel_digits(stacked_mnist.test, stacked_mnist.test_labels)
    picks = torch.randint(len(digits), (10_000, 3), generator=torch.Generator().manual_seed(0))
    real = digits[picks].squeeze(2)
    cfg = EvalConfig(metrics=("fid",), num_samples=10_000, backbone="domain")
    result = evaluate(fixed_images(real), stacked_mnist, cfg, CPU, isolated_cache)
    assert result.values["modes_total"] == 1000
    assert result.values["modes_covered"] >= 990  # 1000 (1 - e^-10) = 999.95 expected
    assert result.values["kl_to_uniform"] < 0.15  # about (1000 - 1) / (2 * 10_000) by chance
    assert result.provenance["classifier_test_accuracy"] > 0.9  # per digit, 300 steps


def test_stacked_mnist_single_repeated_image_covers_one_mode(stacked_mnist, isolated_cache):
    one = stacked_mnist.test[:1]
    cfg = EvalConfig(metrics=("fid",), num_samples=500, backbone="domain")
    values = evaluate(lambda n: one.expand(n, -1, -1, -1), stacked_mnist, cfg, CPU, isolated_cache)
    assert values.values["modes_covered"] == 1
    assert values.values["kl_to_uniform"] == pytest.approx(math.log(1000))
