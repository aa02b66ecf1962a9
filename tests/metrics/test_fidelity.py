from __future__ import annotations

import urllib.error
from dataclasses import replace

import pytest
import torch
import torch_fidelity.metrics
import torch_fidelity.utils
from torch import nn

from bench.config import EvalConfig
from bench.errors import MetricsError
from bench.metrics import default_cache_dir, evaluate, fidelity
from bench.metrics.backbones import (
    DOMAIN_EXTRACTOR,
    INCEPTION_WEIGHTS_ENV,
    Backbone,
    cached_inception_weights,
    domain_backbone,
)
from bench.metrics.fidelity import backbone_choice, reference_key

CPU = torch.device("cpu")
CONFIG = EvalConfig(metrics=("fid", "isc", "kid", "prc"), num_samples=1000)


def real_images(images: torch.Tensor):
    def generate(n: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        return images[torch.randint(len(images), (n,), generator=generator)]

    return generate


def uniform_noise(n: int) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1


def untrained_generator(n: int) -> torch.Tensor:
    """A randomly initialised MLP generator, as before the first training step."""
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh())
    with torch.no_grad():
        return net(torch.randn(n, 16, generator=generator)).view(n, 1, 8, 8)


@pytest.fixture(scope="module")
def scores(digits, isolated_cache):
    generators = {
        "real": real_images(digits.train),
        "noise": uniform_noise,
        "untrained": untrained_generator,
    }
    return {
        name: evaluate(generate, digits, CONFIG, CPU, isolated_cache)
        for name, generate in generators.items()
    }


def test_real_images_score_far_better_than_noise_and_an_untrained_generator(scores):
    real, noise, untrained = (
        scores["real"].values,
        scores["noise"].values,
        scores["untrained"].values,
    )
    assert real["fid"] < 2
    assert real["fid"] < noise["fid"] / 10 and real["fid"] < untrained["fid"] / 10
    assert abs(real["kid"]) < 0.05
    assert real["kid"] < noise["kid"] / 10 and real["kid"] < untrained["kid"] / 10
    assert real["isc"] > 8 and real["isc"] > noise["isc"] + 3
    assert real["precision"] > 0.5 and noise["precision"] < 0.2


def test_values_and_provenance(scores):
    result = scores["real"]
    fidelity_values = {"fid", "isc", "isc_std", "kid", "kid_std", "precision", "recall"}
    assert set(result.values) == fidelity_values | {"class_coverage", "class_kl_to_real"}
    provenance = result.provenance
    assert provenance["backbone"] == "domain"
    assert provenance["backbone_choice"] == "auto: 1-channel images (Inception needs RGB)"
    assert provenance["backbone_test_accuracy"] >= 0.9
    assert provenance["num_generated"] == 1000
    assert provenance["num_reference"] == 360
    assert provenance["reference_split"] == "test"
    assert provenance["dataset_version"] == "test-v1"
    assert provenance["eval_seed"] == 0
    assert (provenance["kid_subsets"], provenance["kid_subset_size"]) == (100, 360)
    assert provenance["prc_neighborhood"] == 3
    assert provenance["torch_fidelity_version"] == "0.4.0"
    assert provenance["classifier_version"] == provenance["backbone_version"]


def test_class_coverage_of_real_digits_and_of_a_one_class_sampler(scores, digits, isolated_cache):
    real = scores["real"].values
    assert real["class_coverage"] == 1 and real["class_kl_to_real"] < 0.05
    zeros = digits.train[digits.train_labels == 0]
    cfg = EvalConfig(metrics=("fid",), num_samples=100)
    one_class = evaluate(real_images(zeros), digits, cfg, CPU, isolated_cache).values
    assert one_class["class_coverage"] <= 0.2
    assert one_class["class_kl_to_real"] > 1.5  # log(10) = 2.3 for a single class


def test_precision_recall_use_the_chosen_backbone_not_vgg16(digits, isolated_cache, monkeypatch):
    create = torch_fidelity.metrics.create_feature_extractor
    names = []

    def recording_create(name, *args, **kwargs):
        names.append(name)
        return create(name, *args, **kwargs)

    monkeypatch.setattr(torch_fidelity.metrics, "create_feature_extractor", recording_create)
    cfg = EvalConfig(metrics=("prc",), num_samples=300, backbone="domain")
    values = evaluate(real_images(digits.train), digits, cfg, CPU, isolated_cache).values
    assert names == [DOMAIN_EXTRACTOR]
    assert 0.5 < values["precision"] <= 1 and 0.5 < values["recall"] <= 1


def test_the_same_evaluation_gives_the_same_numbers(scores, digits, isolated_cache):
    again = evaluate(real_images(digits.train), digits, CONFIG, CPU, isolated_cache)
    assert again.values == scores["real"].values


def test_reference_features_are_computed_once(digits, isolated_cache, monkeypatch):
    calls = reference_extractions(monkeypatch)
    cfg = EvalConfig(metrics=("fid", "kid"), num_samples=200, reference_samples=300)
    evaluate(uniform_noise, digits, cfg, CPU, isolated_cache)
    assert calls == [1, 2]
    assert list((isolated_cache / "fidelity").glob("ref-digits-test-v1-test-n300-domain-*"))
    evaluate(uniform_noise, digits, cfg, CPU, isolated_cache)
    assert calls == [1, 2, 1]


def reference_extractions(monkeypatch) -> list[int]:
    """The input ids (1: generated, 2: reference) whose features torch-fidelity computes."""
    extract = torch_fidelity.utils.extract_featuresdict_from_input_id
    calls: list[int] = []

    def counting_extract(input_id, *args, **kwargs):
        calls.append(input_id)
        return extract(input_id, *args, **kwargs)

    monkeypatch.setattr(
        torch_fidelity.utils, "extract_featuresdict_from_input_id", counting_extract
    )
    return calls


def test_a_changed_dataset_version_never_reuses_reference_statistics(
    digits, isolated_cache, monkeypatch
):
    calls = reference_extractions(monkeypatch)
    cfg = EvalConfig(metrics=("fid",), num_samples=200, reference_samples=250, backbone="domain")
    before = evaluate(uniform_noise, digits, cfg, CPU, isolated_cache).values["fid"]
    changed = replace(digits, version="test-v2", test=digits.test.flip(-1))
    monkeypatch.setattr(
        fidelity, "domain_backbone", lambda *_: domain_backbone(digits, isolated_cache)
    )
    after = evaluate(uniform_noise, changed, cfg, CPU, isolated_cache).values["fid"]
    assert calls == [1, 2, 1, 2]
    assert after != before


def test_a_changed_backbone_version_never_reuses_reference_statistics(
    digits, isolated_cache, monkeypatch
):
    calls = reference_extractions(monkeypatch)
    cfg = EvalConfig(metrics=("fid",), num_samples=200, reference_samples=260, backbone="domain")
    evaluate(uniform_noise, digits, cfg, CPU, isolated_cache)
    retrained = replace(domain_backbone(digits, isolated_cache), version="retrained")
    monkeypatch.setattr(fidelity, "domain_backbone", lambda *_: retrained)
    evaluate(uniform_noise, digits, cfg, CPU, isolated_cache)
    assert calls == [1, 2, 1, 2]
    assert list(
        (isolated_cache / "fidelity").glob("ref-digits-test-v1-test-n260-domain-retrained-*")
    )


def test_reference_key_names_dataset_version_split_count_and_backbone(digits, tmp_path):
    backbone = Backbone("domain", "gan-bench-domain", "abc", tmp_path, 0.9, 500, 1)
    key = reference_key(digits, "test", 360, backbone)
    assert key == "ref-digits-test-v1-test-n360-domain-abc"
    assert reference_key(replace(digits, version="test-v2"), "test", 360, backbone) != key
    assert reference_key(digits, "train", 360, backbone) != key
    assert reference_key(digits, "test", 100, backbone) != key
    assert reference_key(digits, "test", 360, replace(backbone, version="abd")) != key


def test_inception_offline_without_weights_says_how_to_provide_them(digits, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    cfg = EvalConfig(backbone="inception-v3-compat")
    with pytest.raises(MetricsError) as error:
        evaluate(uniform_noise, digits, cfg, CPU, tmp_path)
    message = str(error.value)
    assert "eval.weights_path" in message and INCEPTION_WEIGHTS_ENV in message
    assert "https://github.com/toshas/torch-fidelity/releases/" in message


def test_missing_weights_file_is_named(digits, tmp_path):
    cfg = EvalConfig(backbone="inception-v3-compat", weights_path=str(tmp_path / "none.pth"))
    with pytest.raises(MetricsError, match=r"none\.pth"):
        evaluate(uniform_noise, digits, cfg, CPU, tmp_path)


def test_auto_uses_inception_only_for_rgb_32px_with_weights_and_says_why(
    digits, tmp_path, monkeypatch
):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    weights = tmp_path / "inception.pth"
    weights.touch()
    rgb = replace(digits, train=torch.zeros(4, 3, 32, 32))
    with_weights = EvalConfig(weights_path=str(weights))
    cache = tmp_path / "cache"
    assert backbone_choice(EvalConfig(), rgb, cache) == (
        "domain",
        "auto: no Inception weights at hand (eval.weights_path, $GAN_BENCH_INCEPTION_WEIGHTS "
        "or a previous download)",
    )
    assert backbone_choice(with_weights, rgb, cache)[0] == "inception-v3-compat"
    assert backbone_choice(with_weights, digits, cache) == (
        "domain",
        "auto: 1-channel images (Inception needs RGB)",
    )
    small = replace(digits, train=torch.zeros(4, 3, 16, 16))
    assert (
        backbone_choice(with_weights, small, cache)[1] == "auto: 16 px images (Inception needs 32+)"
    )
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(weights))
    assert backbone_choice(EvalConfig(), rgb, cache)[0] == "inception-v3-compat"
    assert backbone_choice(EvalConfig(backbone="domain"), rgb, cache) == (
        "domain",
        "eval.backbone = 'domain'",
    )
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV)
    cached_inception_weights(cache).parent.mkdir(parents=True)
    cached_inception_weights(cache).touch()
    assert backbone_choice(EvalConfig(), rgb, cache)[0] == "inception-v3-compat"


def test_generator_output_of_the_wrong_shape_is_refused(digits, isolated_cache):
    with pytest.raises(MetricsError, match="expected images of shape"):
        evaluate(lambda n: torch.zeros(n, 3, 8, 8), digits, CONFIG, CPU, isolated_cache)


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_BENCH_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("GAN_BENCH_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "gan-bench")
