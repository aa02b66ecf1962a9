"""What a plugin model declares it supports is enforced before any job starts."""

from __future__ import annotations

import re

import pytest
from torch import Tensor, nn

from bench.config import ModelConfig
from bench.errors import ConfigError, PluginError
from bench.models.registry import ModelSpec, check_model, check_networks
from bench.plugins import Origin
from bench.tricks.registry import all_tricks

PLUGIN = Origin("lab.nets", "lab-nets", "2.0")
IMAGES = frozenset({"images"})
LABELLED = frozenset({"images", "labels"})


class LabelledGenerator(nn.Module):
    """z and a class label -> a 1x8x8 image."""

    conditioning = frozenset({"labels"})

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, latent_dim)
        self.out = nn.Linear(latent_dim, 64)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.out(z + self.embed(labels)).tanh().view(-1, 1, 8, 8)


class LabelledDiscriminator(nn.Module):
    conditioning = frozenset({"labels"})

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 64)
        self.out = nn.Linear(64, 1)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        return self.out(x.flatten(1) * self.embed(labels)).flatten()


def conditional_build(cfg, shape, num_classes):
    return LabelledGenerator(cfg.latent_dim), LabelledDiscriminator()


def spec(**declared) -> ModelSpec:
    return ModelSpec("labnet", conditional_build, origin=PLUGIN, **declared)


def trick(name: str):
    cls = all_tricks()[name]
    return cls(cls.Params())


@pytest.mark.parametrize(
    ("declared", "capabilities", "size", "message"),
    [
        ({"data": "toy2d"}, IMAGES, 8, "trains on toy2d, this dataset is images"),
        ({"image_sizes": (32, 64)}, IMAGES, 8, "supports image sizes (32, 64), got 8"),
        ({"conditional": True}, IMAGES, 8, "is conditional; this dataset has no labels"),
    ],
)
def test_data_the_model_does_not_support_is_refused(declared, capabilities, size, message) -> None:
    with pytest.raises(
        ConfigError, match=re.escape("model 'labnet' (plugin 'lab.nets' (lab-nets 2.0))")
    ):
        check_model(spec(**declared), [], capabilities, size, "suite.toml")
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_model(spec(**declared), [], capabilities, size, "suite.toml")


def test_only_declared_surgery_tricks_apply() -> None:
    declared = spec(surgery={"spectral_norm"})
    check_model(declared, [trick("spectral_norm"), trick("uniform_latent")], IMAGES, 8, "s")
    with pytest.raises(ConfigError, match="trick 'minibatch_stddev' cannot be applied to model"):
        check_model(declared, [trick("minibatch_stddev")], IMAGES, 8, "s")
    check_model(spec(surgery=None), [trick("minibatch_stddev")], IMAGES, 8, "s")


def test_conditional_nets_are_checked_with_labels() -> None:
    cfg = ModelConfig(latent_dim=4)
    check_networks(spec(conditional=True), cfg, (1, 8, 8), 10)
    with pytest.raises(
        PluginError,
        match=re.escape("failed to build or run its nets for data of shape (1, 16, 16)"),
    ):
        check_networks(spec(conditional=True), cfg, (1, 16, 16), 10)


def test_channels_the_model_does_not_build_are_refused() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("supports (3,)-channel images; this data has 1")
    ):
        check_networks(spec(channels=(3,)), ModelConfig(latent_dim=4), (1, 8, 8), 10)
