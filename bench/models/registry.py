"""The registry of model architectures (`model.arch`): the built-ins, installed plugins, builders.

A model is registered with what it supports, so a suite that asks for something it cannot do
is refused before any job starts: the data kind, image sizes and channel counts it builds for,
whether its nets take class labels themselves (`conditional`), and which tricks that rewrite
G or D (module surgery: any trick overriding `build_generator`/`build_discriminator`) apply
to it. `model.arch` is a registered name, or `"package.module:builder"`: a registered builder
or a bare function `build(cfg, data_shape, num_classes) -> (G, D)`, which supports images of
any size and no module surgery.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from pydantic import BaseModel
from torch import nn

from bench.config import ModelConfig
from bench.errors import ConfigError, PluginError
from bench.models.build import build_models
from bench.models.conditioning import call_net
from bench.models.dcgan import SUPPORTED_SIZES
from bench.models.resnet import SUPPORTED_SIZES as RESNET_SIZES
from bench.plugins import BUILTIN, Origin, clash, current_origin, load_entry_points, resolve_object

Builder = Callable[[ModelConfig, tuple[int, ...], int | None], tuple[nn.Module, nn.Module]]
DataKind = Literal["images", "toy2d"]
BUILDER_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
CHECK_BATCH = 2


@dataclass(frozen=True)
class ModelSpec:
    """A model architecture and what it supports (None: anything)."""

    name: str
    build: Builder
    data: DataKind = "images"
    image_sizes: tuple[int, ...] | None = None
    channels: tuple[int, ...] | None = None
    conditional: bool = False
    surgery: frozenset[str] | None = frozenset()
    origin: Origin = BUILTIN
    params: type[BaseModel] | None = None

    def describe(self) -> str:
        return f"model '{self.name}'" + (
            "" if self.origin.builtin else f" ({self.origin.describe()})"
        )


REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    data: DataKind = "images",
    image_sizes: Iterable[int] | None = None,
    channels: Iterable[int] | None = None,
    conditional: bool = False,
    surgery: Collection[str] | None = (),
    params: type[BaseModel] | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator: make `build(cfg, data_shape, num_classes) -> (G, D)` available as `model.arch`.

    `surgery` names the tricks that rewrite G or D which work on these nets (None: all of them);
    with `conditional`, G and D take `labels` (set `conditioning = {"labels"}` on both).
    `params`: the pydantic model of the suite's `model.params` table; the builder finds them,
    validated and with defaults filled, in `cfg.params` (without it they arrive unchecked).
    """

    def decorate(build: Builder) -> Builder:
        origin = current_origin()
        if name in REGISTRY:
            raise clash("model", name, REGISTRY[name].origin, origin)
        REGISTRY[name] = ModelSpec(
            name,
            build,
            data,
            None if image_sizes is None else tuple(image_sizes),
            None if channels is None else tuple(channels),
            conditional,
            None if surgery is None else frozenset(surgery),
            origin,
            params,
        )
        build.model_spec = REGISTRY[name]  # type: ignore[attr-defined]
        return build

    return decorate


def builtin_build(
    cfg: ModelConfig, data_shape: tuple[int, ...], num_classes: int | None
) -> tuple[nn.Module, nn.Module]:
    """The built-in architectures, built by `bench.models.build` (labels come from tricks)."""
    return build_models(cfg, data_shape)


REGISTRY["dcgan"] = ModelSpec("dcgan", builtin_build, "images", SUPPORTED_SIZES, surgery=None)
REGISTRY["mlp"] = ModelSpec("mlp", builtin_build, "toy2d", surgery=None)
# The tricks resnet refuses, each with its reason, are checked by `bench.models.build.check_fit`.
REGISTRY["resnet"] = ModelSpec("resnet", builtin_build, "images", RESNET_SIZES, surgery=None)


def model_spec(arch: str, where: str = "model.arch") -> ModelSpec:
    """The model `arch` names: registered (built-in or installed plugin), or a builder reference."""
    if BUILDER_REFERENCE.match(arch):
        target, origin = resolve_object(arch, f"{where} = '{arch}'")
        spec = getattr(target, "model_spec", None)
        if isinstance(spec, ModelSpec):
            return spec
        if not callable(target):
            raise PluginError(f"{origin.describe()}: '{arch}' is not a model builder")
        return ModelSpec(arch, target, origin=origin)
    load_entry_points("models")
    if arch not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(
            f"{where}: key 'model.arch' = '{arch}': unknown model; known models: {known}, "
            "or 'package.module:builder'"
        )
    return REGISTRY[arch]


class NetworkRewrite(Protocol):
    """What `check_model` asks of a trick: its name, and whether it rewrites G or D."""

    name: str

    def modifies_networks(self) -> bool: ...


def check_model(
    spec: ModelSpec,
    tricks: Iterable[NetworkRewrite],
    capabilities: frozenset[str],
    image_size: int | None,
    where: str,
) -> None:
    """Refuse a model that cannot train on this data or with these tricks, naming both."""
    kind = "images" if "images" in capabilities else "toy2d"
    if spec.data != kind:
        raise ConfigError(
            f"{where}: {spec.describe()} trains on {spec.data}, this dataset is {kind}"
        )
    if (
        spec.data == "images"
        and spec.image_sizes is not None
        and image_size not in spec.image_sizes
    ):
        raise ConfigError(
            f"{where}: {spec.describe()} supports image sizes {spec.image_sizes}, got "
            f"{image_size}; set data.image_size to one of them"
        )
    if spec.conditional and "labels" not in capabilities:
        raise ConfigError(f"{where}: {spec.describe()} is conditional; this dataset has no labels")
    if spec.surgery is None:
        return
    for trick in tricks:
        if trick.modifies_networks() and trick.name not in spec.surgery:
            allowed = ", ".join(sorted(spec.surgery)) or "none"
            raise ConfigError(
                f"{where}: trick '{trick.name}' cannot be applied to {spec.describe()}: it "
                f"rewrites G or D, and this model supports only these such tricks: {allowed}"
            )


def build_networks(
    cfg: ModelConfig, data_shape: tuple[int, ...], num_classes: int | None
) -> tuple[nn.Module, nn.Module]:
    """(G, D) of `cfg.arch` for data of `data_shape` (one sample's shape)."""
    return model_spec(cfg.arch).build(cfg, data_shape, num_classes)


def check_networks(
    spec: ModelSpec, cfg: ModelConfig, data_shape: tuple[int, ...], num_classes: int | None
) -> None:
    """Build a model's nets once on the CPU and check the shapes G and D return.

    G must map `CHECK_BATCH` latents to samples of `data_shape`, D map samples to a flat vector
    of logits; anything else (or an exception while building) is an error naming the model
    (a `PluginError` naming the plugin, for a plugin's model). Built-ins are checked too.
    """
    channels = data_shape[0] if len(data_shape) == 3 else None
    if spec.channels is not None and channels not in spec.channels:
        raise ConfigError(
            f"{spec.describe()} supports {spec.channels}-channel images; this data has {channels}"
        )
    failure = ConfigError if spec.origin.builtin else PluginError
    labels = torch.zeros(CHECK_BATCH, dtype=torch.long) if num_classes else None
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        try:
            generator, discriminator = spec.build(cfg, data_shape, num_classes)
            fake = call_net(generator.eval(), torch.zeros(CHECK_BATCH, cfg.latent_dim), labels)
            logits = call_net(discriminator.eval(), torch.zeros(CHECK_BATCH, *data_shape), labels)
        except ConfigError:
            raise
        except Exception as err:  # a plugin's code may raise anything: name it, don't crash
            raise failure(
                f"{spec.describe()} failed to build or run its nets for data of shape "
                f"{data_shape}: {type(err).__name__}: {err}"
            ) from None
    expected = (CHECK_BATCH, *data_shape)
    if not isinstance(fake, torch.Tensor) or tuple(fake.shape) != expected:
        raise failure(
            f"{spec.describe()}: G returned {_shape(fake)} for {CHECK_BATCH} latents; "
            f"expected {expected}"
        )
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (CHECK_BATCH,):
        raise failure(
            f"{spec.describe()}: D returned {_shape(logits)} for {CHECK_BATCH} "
            f"images; expected one logit per image: ({CHECK_BATCH},)"
        )


def _shape(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"shape {tuple(value.shape)}"
    return f"a {type(value).__name__}, not a tensor"
