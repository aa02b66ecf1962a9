from __future__ import annotations

import urllib.error
from dataclasses import replace

import pytest
import torch
import torch_fidelity.utils
from torch import nn

from bench.config import EvalConfig
from bench.errors import MetricsError
from bench.metrics import default_cache_dir, evaluate
from bench.metrics.backbones import INCEPTION_WEIGHTS_ENV, Backbone
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
    assert set(result.values) == {"fid", "isc", "isc_std", "kid", "kid_std", "precision", "recall"}
    assert result.provenance["backbone"] == "domain"
    assert result.provenance["backbone_test_accuracy"] >= 0.9
    assert result.provenance["num_generated"] == 1000
    assert result.provenance["num_reference"] == 360
    assert result.provenance["reference_split"] == "test"
    assert result.provenance["dataset_version"] == "test-v1"
    assert result.provenance["torch_fidelity_version"] == "0.4.0"


def test_the_same_evaluation_gives_the_same_numbers(scores, digits, isolated_cache):
    again = evaluate(real_images(digits.train), digits, CONFIG, CPU, isolated_cache)
    assert again.values == scores["real"].values


def test_reference_features_are_computed_once(digits, isolated_cache, monkeypatch):
    extract = torch_fidelity.utils.extract_featuresdict_from_input_id
    calls = []

    def counting_extract(input_id, *args, **kwargs):
        calls.append(input_id)
        return extract(input_id, *args, **kwargs)

    monkeypatch.setattr(
        torch_fidelity.utils, "extract_featuresdict_from_input_id", counting_extract
    )
    cfg = EvalConfig(metrics=("fid", "kid"), num_samples=200, reference_samples=300)
    evaluate(uniform_noise, digits, cfg, CPU, isolated_cache)
    assert calls == [1, 2]
    assert list((isolated_cache / "fidelity").glob("ref-digits-test-v1-test-n300-domain-*"))
    evaluate(uniform_noise, digits, cfg, CPU, isolated_cache)
    assert calls == [1, 2, 1]


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


def test_auto_uses_inception_only_for_rgb_32px_with_local_weights(digits, tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    weights = tmp_path / "inception.pth"
    weights.touch()
    rgb = replace(digits, train=torch.zeros(4, 3, 32, 32))
    assert backbone_choice(EvalConfig(), rgb) == "domain"
    assert backbone_choice(EvalConfig(weights_path=str(weights)), rgb) == "inception-v3-compat"
    assert backbone_choice(EvalConfig(weights_path=str(weights)), digits) == "domain"
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(weights))
    assert backbone_choice(EvalConfig(), rgb) == "inception-v3-compat"
    assert backbone_choice(EvalConfig(backbone="domain"), rgb) == "domain"


def test_generator_output_of_the_wrong_shape_is_refused(digits, isolated_cache):
    with pytest.raises(MetricsError, match="expected images of shape"):
        evaluate(lambda n: torch.zeros(n, 3, 8, 8), digits, CONFIG, CPU, isolated_cache)


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_BENCH_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("GAN_BENCH_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "gan-bench")
