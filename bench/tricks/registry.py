"""The `Trick` base class, its hooks, and the registry of every trick by name.

A trick overrides only the hooks it needs; the others are no-ops. The training loop calls the
enabled tricks at each hook in ascending `order` (ties broken by name), so a run is
reproducible whatever order the suite file lists them in. Hooks receive what they need as
arguments and return what they change; none of them reads a tensor back to the host, so the
step stays graph-capturable.

Hooks, in the order one training iteration meets them:

=====================  ==================================================================
`setup`                once, before training: sees the `TrainContext` (shapes, steps).
`build_generator`      wrap or modify G (e.g. spectral norm, noise layers); returns G.
`build_discriminator`  wrap or modify D; returns D.
`schedule`             D and G updates per iteration, from the configured ratio.
`sample_latent`        transform the latent batch (drawn N(0, I)) before G sees it.
`d_inputs`             transform the real and fake batches before D sees them.
`d_targets`            transform D's real and fake targets (1 and 0 by default).
`d_loss`               an extra term added to D's loss.
`g_loss`               an extra term added to G's loss.
`after_step`           after both updates (EMA, checkpoint swaps).
`sample`               at evaluation: transform the latent batch used for scoring.
=====================  ==================================================================
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from bench.config import validate
from bench.errors import ConfigError


class TrickParams(BaseModel):
    """Base of every trick's parameters: unknown keys are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class TrainContext:
    """What hooks may read: shapes, step counts, the job's RNG and the current step.

    `step` is a 0-dim float tensor on the training device, updated in place each iteration,
    so schedules computed from it (e.g. annealed noise) need no host round trip. `phase` is
    "d" during D updates and "g" during G updates (in G updates `d_inputs` gets `real=None`).
    """

    device: torch.device
    generator: torch.Generator
    total_steps: int
    batch_size: int
    latent_dim: int
    data_shape: tuple[int, ...]
    step: Tensor = field(default_factory=lambda: torch.zeros(()))
    phase: str = "d"

    def progress(self) -> Tensor:
        """Training progress in [0, 1], as a device tensor."""
        return (self.step / max(self.total_steps, 1)).clamp(0.0, 1.0)


@dataclass
class LossTerms:
    """What an extra loss term may use: D's logits and the batches they were computed on."""

    real_logits: Tensor | None
    fake_logits: Tensor
    real: Tensor | None
    fake: Tensor
    generator: nn.Module
    discriminator: nn.Module


class Trick:
    """Base class of every trick. Subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    family: ClassVar[str]
    source: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = TrickParams
    needs: ClassVar[frozenset[str]] = frozenset()
    conflicts: ClassVar[Mapping[str, str]] = {}
    order: ClassVar[int] = 50
    capturable: ClassVar[bool] = True

    def __init__(self, params: BaseModel) -> None:
        self.params = params

    def setup(self, ctx: TrainContext) -> None:
        """Called once before training."""

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        return generator

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        return discriminator

    def schedule(self, d_steps: int, g_steps: int, ctx: TrainContext) -> tuple[int, int]:
        return d_steps, g_steps

    def sample_latent(self, z: Tensor, ctx: TrainContext) -> Tensor:
        return z

    def d_inputs(
        self, real: Tensor | None, fake: Tensor, ctx: TrainContext
    ) -> tuple[Tensor | None, Tensor]:
        return real, fake

    def d_targets(
        self, real_target: Tensor, fake_target: Tensor, ctx: TrainContext
    ) -> tuple[Tensor, Tensor]:
        return real_target, fake_target

    def d_loss(self, terms: LossTerms, ctx: TrainContext) -> Tensor | None:
        return None

    def g_loss(self, terms: LossTerms, ctx: TrainContext) -> Tensor | None:
        return None

    def after_step(self, generator: nn.Module, discriminator: nn.Module, ctx: TrainContext) -> None:
        """Called after both networks have been updated."""

    def sample(self, z: Tensor, ctx: TrainContext) -> Tensor:
        return z

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]


REGISTRY: dict[str, type[Trick]] = {}


def register(cls: type[Trick]) -> type[Trick]:
    """Class decorator: make a trick available to suites under `cls.name`."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"trick name '{cls.name}' registered twice")
    REGISTRY[cls.name] = cls
    return cls


def all_tricks() -> dict[str, type[Trick]]:
    """Every registered trick by name, importing each module of `bench.tricks` once."""
    package = importlib.import_module("bench.tricks")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"bench.tricks.{module.name}")
    return dict(sorted(REGISTRY.items()))


def build_tricks(
    spec: Mapping[str, Mapping[str, Any]], source: str, capabilities: frozenset[str]
) -> list[Trick]:
    """Validate a `{name: params}` table and return the tricks in hook order.

    Refuses unknown names, bad parameters, unmet needs (e.g. labels on an unlabelled
    dataset) and conflicting pairs, each with a message naming the key and the reason.
    """
    known = all_tricks()
    tricks: list[Trick] = []
    for name, raw in spec.items():
        if name not in known:
            allowed = ", ".join(known)
            raise ConfigError(f"{source}: unknown trick '{name}'; known tricks: {allowed}")
        cls = known[name]
        params = validate(cls.Params, dict(raw), source, prefix=f"tricks.{name}")
        missing = cls.needs - capabilities
        if missing:
            raise ConfigError(
                f"{source}: trick '{name}' needs {', '.join(sorted(missing))}, which this "
                f"dataset does not provide (it provides: {', '.join(sorted(capabilities))})"
            )
        tricks.append(cls(params))
    names = set(spec)
    for trick in tricks:
        for other, reason in trick.conflicts.items():
            if other in names:
                raise ConfigError(
                    f"{source}: tricks '{trick.name}' and '{other}' cannot be combined: {reason}"
                )
    return sorted(tricks, key=lambda t: (t.order, t.name))
