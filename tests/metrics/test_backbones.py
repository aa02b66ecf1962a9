from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from bench.errors import MetricsError
from bench.metrics.backbones import (
    DOMAIN_EXTRACTOR,
    DomainFeatureExtractor,
    Recipe,
    domain_backbone,
    domain_version,
    to_uint8,
    train_domain_classifier,
)
from bench.metrics.fidelity import rgb_uint8


@pytest.fixture(scope="session")
def backbone(digits, isolated_cache):
    return domain_backbone(digits, isolated_cache)


def test_domain_backbone_classifies_digits_and_is_cached(backbone, digits, isolated_cache):
    assert backbone.test_accuracy >= 0.9
    assert backbone.weights_path.is_file()
    assert backbone.weights_path.parent == isolated_cache / "backbones"
    modified = backbone.weights_path.stat().st_mtime_ns
    assert domain_backbone(digits, isolated_cache) == backbone
    assert backbone.weights_path.stat().st_mtime_ns == modified


def test_training_is_seeded():
    images = torch.rand(64, 1, 8, 8) * 2 - 1
    labels = torch.arange(64) % 10
    recipe = Recipe(channels=1, image_size=8, num_classes=10, steps=3)
    first = train_domain_classifier(recipe, images, labels).state_dict()
    second = train_domain_classifier(recipe, images, labels).state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_version_depends_on_recipe_and_dataset_version():
    recipe = Recipe(channels=1, image_size=8, num_classes=10, steps=100)
    assert domain_version(recipe, "a") != domain_version(recipe, "b")
    assert domain_version(recipe, "a") != domain_version(replace(recipe, lr=1e-4), "a")


def test_extractor_converts_rgb_and_size_to_the_backbone_input(backbone, digits):
    extractor = DomainFeatureExtractor(
        DOMAIN_EXTRACTOR, ["penultimate", "logits"], str(backbone.weights_path)
    )
    gray = to_uint8(digits.test[:20])
    features, logits = extractor(gray)
    assert features.shape == (20, 128) and logits.shape == (20, 10)
    assert torch.allclose(extractor(rgb_uint8(digits.test[:20]))[0], features, atol=1e-5)
    assert extractor(torch.zeros(5, 3, 16, 16, dtype=torch.uint8))[0].shape == (5, 128)


def test_datasets_without_labels_get_a_clear_error(digits, isolated_cache):
    unlabelled = replace(digits, train_labels=None, test_labels=None, num_classes=None)
    with pytest.raises(MetricsError, match="no class labels"):
        domain_backbone(unlabelled, isolated_cache)
