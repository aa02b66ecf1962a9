"""Every trick trains on `model.arch = "resnet"`, or is refused before any job starts."""

from __future__ import annotations

import pytest
import torch

from bench.config import DataConfig, JobConfig, ModelConfig, Suite, TrainConfig, validate
from bench.data import load_dataset
from bench.data.base import Dataset
from bench.errors import ConfigError
from bench.expand import check_model_fit, expand
from bench.models.resnet import REFUSED_TRICKS
from bench.run.job.sampler import Sampler
from bench.train.loop import TrainOutcome, train
from bench.tricks.registry import all_tricks, build_tricks, resolve_tricks

CPU = torch.device("cpu")


def resnet_job(**tricks: dict) -> JobConfig:
    """A 16-px ResNet on the digits (upsampled), as small as the architecture allows."""
    return JobConfig(
        data=DataConfig(name="digits", image_size=16),
        model=ModelConfig(arch="resnet", latent_dim=8, g_width=8, d_width=8),
        train=TrainConfig(steps=3, batch_size=16, log_every=3),
        tricks=tricks,
    )


def train_resnet(cfg: JobConfig) -> tuple[Dataset, TrainOutcome]:
    """The digits of `cfg` and the outcome of training on them with `cfg`'s tricks."""
    dataset = load_dataset(cfg.data)
    tricks = build_tricks(resolve_tricks(cfg.tricks, "test", dataset.capabilities))
    outcome = train(
        cfg, 0, dataset.train, tricks, CPU, labels=dataset.train_labels,
        num_classes=dataset.num_classes,
    )  # fmt: skip
    return dataset, outcome


@pytest.mark.parametrize("name", sorted(all_tricks()))
def test_each_trick_trains_on_resnet_or_is_refused(trick_alone, name: str) -> None:
    cfg = resnet_job(**trick_alone(name))
    if name in REFUSED_TRICKS:
        with pytest.raises(ConfigError, match=rf"trick '{name}' does not apply to .*'resnet'"):
            check_model_fit(cfg, "suite.toml")
        return
    check_model_fit(cfg, "suite.toml")
    dataset, outcome = train_resnet(cfg)
    assert outcome.status in {"ok", "diverged"}
    if outcome.status == "ok":
        assert Sampler(outcome, 0, dataset.test).generate(4).shape == (4, 1, 16, 16)


def test_a_refused_trick_stops_the_suite_before_any_job() -> None:
    raw = {
        "suite": {"name": "r"},
        "base": {"data": {"image_size": 16}, "model": {"arch": "resnet"}},
        "tricks": {"spectral_norm": {}, "generator_upsampling": {}},
    }
    with pytest.raises(ConfigError, match=r"variant 'generator_upsampling'.*'resnet'"):
        expand(validate(Suite, raw, "s.toml"), "s.toml")


def test_projection_discriminator_is_native_to_resnet() -> None:
    """The projection uses D's pooled features, the input of its final dense layer."""
    cfg = resnet_job(projection_discriminator={})
    dataset, outcome = train_resnet(cfg)
    d = outcome.discriminator
    x = dataset.train[:4]
    a, b = d(x, torch.zeros(4, dtype=torch.long)), d(x, torch.ones(4, dtype=torch.long))
    assert d.feature_layer is d.net.to_logit and not torch.allclose(a, b)


def test_projection_with_conditional_batch_norm_in_g_as_miyato_and_koyama() -> None:
    """generator = "batch_norm": every BN of G gets per-class scales and shifts."""
    _, outcome = train_resnet(resnet_job(projection_discriminator={"generator": "batch_norm"}))
    g = outcome.generator.eval()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) and m.affine for m in g.modules())
    z = torch.randn(4, 8)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    with torch.no_grad():
        assert not torch.allclose(g(z, zeros), g(z, ones))  # the class changes the image
        assert torch.equal(g(z, zeros), g(z, zeros))
