from __future__ import annotations

from dataclasses import asdict, replace

import pytest
import torch
import torch.nn.functional as F

from bench.errors import MetricsError
from bench.metrics.backbones import (
    DOMAIN_EXTRACTOR,
    DomainClassifier,
    DomainFeatureExtractor,
    LabelledImages,
    Recipe,
    channel_digits,
    domain_backbone,
    domain_recipe,
    domain_version,
    joint_log_probs,
    prepare,
    random_shift,
    to_uint8,
    train_domain_classifier,
)
from bench.metrics.cache import atomic_save
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


def test_inputs_of_16_px_or_more_get_a_strided_stem_and_shift_augmentation():
    def recipe(size: int, count: int) -> Recipe:
        images, labels = torch.zeros(count, 1, size, size), torch.zeros(count, dtype=torch.int64)
        return domain_recipe(LabelledImages(images, labels, images, labels, 10, False))

    small, large = recipe(8, 1437), recipe(32, 8000)
    assert (small.stem_stride, small.max_shift, small.steps) == (1, 0, 225)
    assert (large.stem_stride, large.max_shift, large.steps) == (2, 2, 1250)
    assert recipe(32, 60000).steps == 2000


def test_random_shift_moves_the_batch_and_fills_with_black():
    images = torch.ones(4, 1, 8, 8)
    generator = torch.Generator().manual_seed(0)
    shifted = [random_shift(images, 2, generator) for _ in range(20)]
    assert all(s.shape == images.shape for s in shifted)
    assert any((s == -1).any() for s in shifted)
    assert random_shift(images, 0, generator) is images


def test_stacked_images_split_into_channels_with_their_digits():
    images = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3, 2, 2)
    channels, digits = channel_digits(images, torch.tensor([123, 907]))
    assert channels.shape == (6, 1, 2, 2)
    assert digits.tolist() == [1, 2, 3, 9, 0, 7]
    assert torch.equal(channels[4, 0], images[1, 1])


def test_joint_log_probs_index_digit_triples_as_stacked_mnist_labels():
    log_probs = F.log_softmax(torch.randn(5, 3, 10), dim=2)
    joint = joint_log_probs(log_probs)
    assert joint.shape == (5, 1000)
    assert torch.allclose(joint.exp().sum(dim=1), torch.ones(5), atol=1e-5)
    a, b, c = 4, 0, 7
    assert torch.allclose(
        joint[:, 100 * a + 10 * b + c], log_probs[:, 0, a] + log_probs[:, 1, b] + log_probs[:, 2, c]
    )
    best = log_probs.argmax(dim=2)
    assert (
        joint.argmax(dim=1).tolist() == (100 * best[:, 0] + 10 * best[:, 1] + best[:, 2]).tolist()
    )


def test_a_per_channel_extractor_puts_the_channels_features_side_by_side(tmp_path):
    recipe = Recipe(channels=1, image_size=8, num_classes=10, steps=1, per_channel=True)
    net = DomainClassifier(recipe).eval()
    path = tmp_path / "stacked.pt"
    atomic_save(
        {"recipe": asdict(recipe), "state_dict": net.state_dict(), "feature_scale": 1.0}, path
    )
    extractor = DomainFeatureExtractor(DOMAIN_EXTRACTOR, ["penultimate", "logits"], str(path))
    images = torch.randint(256, (5, 3, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        features, logits = extractor(images)
        green = net.features(prepare(images[:, 1:2], 1, 8))
    assert features.shape == (5, 3 * 128) and logits.shape == (5, 1000)
    assert torch.allclose(features[:, 128:256], green, atol=1e-6)
