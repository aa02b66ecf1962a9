"""The `Trick` base class, its hooks, and the registry of every trick by name.

A trick overrides only the hooks it needs; the others are no-ops. The training loop calls the
enabled tricks at each hook in ascending `order` (ties broken by name), so a run is
reproducible whatever order the suite file lists them in. Hooks receive what they need as
arguments and return what they change. A trick that keeps the capture contract (no host
reads, no Python state that changes per iteration: docs/gpu.md) says `capturable = True`, and
tests/train/test_capture_contract.py holds it to that; a job with any other trick runs eagerly.

Hooks, in the order a run meets them (`labels` is None unless G or D is conditional and the
dataset has labels; fakes get labels drawn uniformly):

========================  ===============================================================
`setup`                   once, before training: sees the `TrainContext` (shapes, steps).
`prepare_data`            once: transform training data (and evaluation's input images).
`build_generator`         wrap or modify G (e.g. spectral norm, noise layers); returns G.
`build_discriminator`     wrap or modify D; returns D.
`optimizer`               replace or adjust G's or D's optimiser (Adam from `[train]`).
 -- each iteration --
`schedule`                D and G updates this iteration, from the configured ratio.
`sample_latent`           transform the latent batch (drawn N(0, I)) before G sees it.
`d_inputs`                transform the real and fake batches before D sees them.
`d_targets`               transform D's real and fake targets (1 and 0 by default).
                          Also called once before training, on probe targets and an
                          RNG of its own, to find the loss floor (no side effects).
`d_loss`                  D's loss -> D's loss: add a term (penalty) or replace it.
`g_loss`                  G's loss -> G's loss: add a term (feature matching) or replace it.
`gradients`               after each `backward()`, before the optimiser step: change the
                          updated net's gradients in place (clipping, gradient noise).
                          The recorded gradient norm is the one before this hook.
`after_update`            after each optimiser step of G or D: change the updated net's
                          parameters in place (WGAN's weight clipping).
`after_step`              after both updates (EMA, checkpoint swaps, running averages).
 -- at evaluation --
`evaluation_generator`    choose the G that is scored (e.g. its EMA copy).
`sample`                  transform the latents and labels used for scoring (truncation,
                          rejection sampling, Langevin refinement): "sampling tricks".
`evaluation_output`       map G's output back to the data range [-1, 1] for the metrics.
========================  ===============================================================

The objective (BCE on logits by default; hinge, least squares, Wasserstein, ...) is named by
at most one trick's `objective` attribute; the loop looks it up in `bench.train.losses`. Tricks
that replace a loss (rather than add to it) run early (`order` 20), so additive terms survive.

D sees the real and the fake batch as two separate batches (DCGAN's rule: BatchNorm never
mixes real and fake statistics) unless a trick sets `mixes_d_batches`, which makes the loop
call D once on the concatenation. A G update gathers a real batch only for a trick that sets
`reads_real_in_g_step` (its `g_loss` reads `terms.real` or `terms.real_labels`) or for nets
that take it as their input image; otherwise those terms are None there.

Networks declare the extra inputs they take in `conditioning`; hooks call them through
`bench.models.conditioning.call_net`, which passes labels or paired input images only to nets
that take them.

Tricks that interact declare what they do, not whom they clash with, so a new trick is one
file: `changes_targets` (sets D's targets), `ignores_targets` (an objective without targets),
`conditions_on` (the inputs its nets take) and `refuses_conditioning` (the inputs it cannot
serve, with why). `trick_conflicts` turns these into the pairs `resolve_tricks` refuses, beside
the pairs a trick names in `conflicts`. A trick that is only meaningful beside another names
it in `requires` (with why), and `resolve_tricks` refuses it alone. `resolve_tricks` checks a
job's tricks from their classes and types their parameters, once, when the suite is expanded;
`build_tricks` builds the tricks of those parameters when the job runs.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from bench.config import validate
from bench.errors import ConfigError
from bench.models.conditioning import call_net
from bench.plugins import Origin, clash, current_origin, load_entry_points

Role = Literal["generator", "discriminator"]
LatentPrior = Callable[[int], tuple[Tensor, Tensor | None]]


class TrickParams(BaseModel):
    """Base of every trick's parameters: unknown keys are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Nets:
    """The networks being trained (or, at evaluation, the ones being scored)."""

    generator: nn.Module
    discriminator: nn.Module


@dataclass
class TrainContext:
    """What hooks may read: shapes, step counts, the job's RNG, the nets and the step.

    `step` is a 0-dim float tensor on the training device, updated in place each iteration,
    so schedules computed from it (e.g. annealed noise) need no host round trip. `phase` is
    "d" during D updates, "g" during G updates (in G updates `d_inputs` gets `real=None`)
    and "sample" at evaluation. `last_d_loss`/`last_g_loss` are the latest losses as device
    tensors (reading them on the host is a sync: declare `capturable = False`). `nets` and
    `latent_prior` (draws `(z, labels)` as training does) are set once the nets are built.
    """

    device: torch.device
    rng: torch.Generator
    total_steps: int
    batch_size: int
    latent_dim: int
    data_shape: tuple[int, ...]
    num_classes: int | None = None
    step: Tensor = field(default_factory=lambda: torch.zeros(()))
    phase: str = "d"
    nets: Nets | None = None
    latent_prior: LatentPrior | None = None
    last_d_loss: Tensor = field(default_factory=lambda: torch.zeros(()))
    last_g_loss: Tensor = field(default_factory=lambda: torch.zeros(()))

    def __post_init__(self) -> None:
        """The step and the losses live on `device`: a 0-dim CPU tensor in a CUDA op is taken
        as a constant, so a captured graph would keep the value it had at capture."""
        self.step = self.step.to(self.device)
        self.last_d_loss = self.last_d_loss.to(self.device)
        self.last_g_loss = self.last_g_loss.to(self.device)

    def progress(self) -> Tensor:
        """Training progress in [0, 1], as a device tensor."""
        return (self.step / max(self.total_steps, 1)).clamp(0.0, 1.0)

    def draw_prior(
        self, n: int, rng: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """`n` N(0, I) latents and, where there are classes, uniformly drawn labels (else None).

        Drawn from `rng` (default: the job's RNG) labels first: the one order training, its
        sample probe and evaluation share.
        """
        rng = rng or self.rng
        labels = None
        if self.num_classes is not None:
            labels = torch.randint(0, self.num_classes, (n,), generator=rng, device=self.device)
        return torch.randn(n, self.latent_dim, generator=rng, device=self.device), labels


class GANLoss(Protocol):
    """The job's objective with its G loss form (see `bench.train.losses`); elementwise."""

    name: str

    def discriminator_real(self, logits: Tensor, target: Tensor) -> Tensor: ...

    def discriminator_fake(self, logits: Tensor, target: Tensor) -> Tensor: ...

    def generator(self, logits: Tensor) -> Tensor: ...


@dataclass
class LossTerms:
    """What a loss hook may use: D's logits, the batches they were computed on, and more.

    `real`/`fake` are the batches as D saw them (after `d_inputs`). In G updates D sees no
    real batch (`real_logits` is None); `real` and `real_labels` are a fresh, untransformed
    real batch (for feature matching, reconstruction or paired losses) where the update
    gathers one (for a trick with `reads_real_in_g_step`, or for nets that take it as their
    input image), else None. `generated` is G's raw output; `condition_image` the
    untransformed real batch where a net takes it (pix2pix's paired nets), else None.
    """

    real_logits: Tensor | None
    fake_logits: Tensor
    real: Tensor | None
    fake: Tensor
    generated: Tensor
    latent: Tensor
    real_labels: Tensor | None
    fake_labels: Tensor | None
    generator: nn.Module
    discriminator: nn.Module
    objective: GANLoss
    condition_image: Tensor | None = None

    def discriminate(self, x: Tensor, labels: Tensor | None) -> Tensor:
        """D's logits on `x`, with the labels and input image it takes (as the loop did)."""
        return call_net(self.discriminator, x, labels, self.condition_image)


class Trick:
    """Base class of every trick. Subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    family: ClassVar[str]
    citation: ClassVar[str]  # the paper or guideline it comes from
    Params: ClassVar[type[BaseModel]] = TrickParams
    needs: ClassVar[frozenset[str]] = frozenset()
    conflicts: ClassVar[Mapping[str, str]] = {}
    requires: ClassVar[Mapping[str, str]] = {}  # tricks it must be combined with: why
    order: ClassVar[int] = 50
    capturable: ClassVar[bool] = False  # opt in: CUDA graph capture replays only tensor ops
    objective: ClassVar[str | None] = None
    replaces_networks: ClassVar[bool] = False
    mixes_d_batches: ClassVar[bool] = False
    reads_real_in_g_step: ClassVar[bool] = False  # its `g_loss` reads `terms.real` or labels
    changes_targets: ClassVar[bool] = False  # its `d_targets` moves D's targets off 1 and 0
    ignores_targets: ClassVar[bool] = False  # its objective has no targets to move
    conditions_on: ClassVar[frozenset[str]] = frozenset()  # inputs its nets take (`conditioning`)
    refuses_conditioning: ClassVar[Mapping[str, str]] = {}  # inputs it cannot serve: why

    def __init__(self, params: BaseModel) -> None:
        self.params = params

    def setup(self, ctx: TrainContext) -> None:
        """Called once before training."""

    def prepare_data(self, data: Tensor, ctx: TrainContext) -> Tensor:
        return data

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        return generator

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        return discriminator

    def optimizer(
        self, role: Role, optimizer: torch.optim.Optimizer, net: nn.Module, ctx: TrainContext
    ) -> torch.optim.Optimizer:
        return optimizer

    def schedule(self, d_steps: int, g_steps: int, ctx: TrainContext) -> tuple[int, int]:
        return d_steps, g_steps

    def sample_latent(self, z: Tensor, labels: Tensor | None, ctx: TrainContext) -> Tensor:
        return z

    def d_inputs(
        self, real: Tensor | None, fake: Tensor, ctx: TrainContext
    ) -> tuple[Tensor | None, Tensor]:
        return real, fake

    def d_targets(
        self, real_target: Tensor, fake_target: Tensor, ctx: TrainContext
    ) -> tuple[Tensor, Tensor]:
        return real_target, fake_target

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        return loss

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        return loss

    def gradients(self, role: Role, net: nn.Module, ctx: TrainContext) -> None:
        """Called between `backward()` and the optimiser step of `net` (G or D, by `role`):
        change its parameters' `.grad` in place. A capturable trick does it with tensor ops
        only (no host reads of the norm, no Python state)."""

    def after_update(self, role: Role, net: nn.Module, ctx: TrainContext) -> None:
        """Called after each optimiser step of `net` (G or D, by `role`): change its
        parameters in place. A capturable trick does it with tensor ops only."""

    def after_step(self, generator: nn.Module, discriminator: nn.Module, ctx: TrainContext) -> None:
        """Called after both networks have been updated."""

    def evaluation_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        return generator

    def sample(
        self, z: Tensor, labels: Tensor | None, ctx: TrainContext
    ) -> tuple[Tensor, Tensor | None]:
        return z, labels

    def evaluation_output(self, images: Tensor, ctx: TrainContext) -> Tensor:
        return images

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]

    @classmethod
    def modifies_networks(cls) -> bool:
        """Whether it overrides `build_generator` or `build_discriminator`."""
        return (
            cls.build_generator is not Trick.build_generator
            or cls.build_discriminator is not Trick.build_discriminator
        )

    @classmethod
    def is_sampling_trick(cls) -> bool:
        """Whether it changes how samples are drawn at evaluation (overrides `sample`)."""
        return cls.sample is not Trick.sample


REGISTRY: dict[str, type[Trick]] = {}
ORIGINS: dict[str, Origin] = {}


def register(cls: type[Trick]) -> type[Trick]:
    """Class decorator: make a trick available to suites under `cls.name` (plugins too)."""
    origin = current_origin()
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise clash("trick", cls.name, ORIGINS[cls.name], origin)
    REGISTRY[cls.name] = cls
    ORIGINS[cls.name] = origin
    return cls


def builtin_tricks() -> dict[str, type[Trick]]:
    """The tricks gan-bench ships, importing each module of `bench.tricks` once."""
    package = importlib.import_module("bench.tricks")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"bench.tricks.{module.name}")
    return {name: cls for name, cls in sorted(REGISTRY.items()) if ORIGINS[name].builtin}


def all_tricks() -> dict[str, type[Trick]]:
    """Every registered trick by name: built-ins, then installed and suite-named plugins."""
    builtin_tricks()
    load_entry_points("tricks")
    return dict(sorted(REGISTRY.items()))


def trick_origin(name: str) -> Origin:
    """Where trick `name` comes from (built-in, or a plugin and its package)."""
    return ORIGINS[name]


def trick_conflicts(cls: type[Trick], known: Mapping[str, type[Trick]]) -> dict[str, str]:
    """The tricks of `known` that `cls` cannot be combined with, and why.

    Those `cls` names in `conflicts`, then those its capability flags imply: an objective
    without targets (`ignores_targets`) refuses tricks that set them (`changes_targets`);
    `refuses_conditioning` refuses tricks whose nets take those inputs (`conditions_on`).
    """
    found = dict(cls.conflicts)
    for name, other in known.items():
        if other is cls or name in found:
            continue
        if cls.ignores_targets and other.changes_targets:
            found[name] = (
                f"the {cls.objective} loss has no targets, so a label trick would have no effect"
            )
        refused = sorted(other.conditions_on & cls.refuses_conditioning.keys())
        if refused:
            found[name] = cls.refuses_conditioning[refused[0]]
    return found


def resolve_tricks(
    spec: Mapping[str, Mapping[str, Any]], where: str, capabilities: frozenset[str]
) -> dict[str, BaseModel]:
    """Validate a `{name: params}` table once: each trick's parameters typed (its `Params`),
    defaults filled in, in the table's order.

    Refuses unknown names, bad parameters, unmet needs (e.g. labels on an unlabelled
    dataset), a trick without one it `requires`, conflicting pairs (`trick_conflicts`), two
    objectives, and a trick that replaces the nets (`replaces_networks`) with one that
    modifies them, each with a message naming both. The pairs come from the classes' flags:
    no trick is built. `where` (the suite file, or what is being checked) begins every message.
    """
    known = all_tricks()
    params: dict[str, BaseModel] = {}
    for name, raw in spec.items():
        if name not in known:
            allowed = ", ".join(known)
            raise ConfigError(f"{where}: unknown trick '{name}'; known tricks: {allowed}")
        cls = known[name]
        params[name] = validate(cls.Params, dict(raw), where, prefix=f"tricks.{name}")
        missing = cls.needs - capabilities
        if missing:
            raise ConfigError(
                f"{where}: trick '{name}' needs {', '.join(sorted(missing))}, which this "
                f"dataset does not provide (it provides: {', '.join(sorted(capabilities))})"
            )
    _check_combination([known[name] for name in params], known, where)
    return params


def _check_combination(
    classes: list[type[Trick]], known: Mapping[str, type[Trick]], where: str
) -> None:
    """Refuse tricks that cannot run together (see `resolve_tricks`), from their classes."""
    names = {cls.name for cls in classes}
    for cls in classes:
        for other, reason in cls.requires.items():
            if other not in names:
                raise ConfigError(
                    f"{where}: trick '{cls.name}' needs trick '{other}' beside it: {reason}"
                )
    for cls in classes:
        for other, reason in trick_conflicts(cls, known).items():
            if other in names:
                raise ConfigError(
                    f"{where}: tricks '{cls.name}' and '{other}' cannot be combined: {reason}"
                )
    for cls in classes:
        if cls.replaces_networks:
            for other in classes:
                if other is not cls and other.modifies_networks():
                    raise ConfigError(
                        f"{where}: tricks '{cls.name}' and '{other.name}' cannot be "
                        f"combined: '{cls.name}' replaces G and D, which '{other.name}' "
                        "modifies"
                    )
    objectives = [cls for cls in classes if cls.objective is not None]
    if len(objectives) > 1:
        first, second = objectives[0], objectives[1]
        raise ConfigError(
            f"{where}: tricks '{first.name}' and '{second.name}' cannot be combined: each "
            f"sets the objective ('{first.objective}' vs '{second.objective}')"
        )


def trick_classes(names: Iterable[str]) -> list[type[Trick]]:
    """The registered classes of trick names already resolved (`resolve_tricks`)."""
    known = all_tricks()
    return [known[name] for name in names]


def build_tricks(params: Mapping[str, BaseModel]) -> list[Trick]:
    """The tricks of resolved parameters (`resolve_tricks`), built in hook order."""
    tricks = [cls(params[cls.name]) for cls in trick_classes(params)]
    return sorted(tricks, key=lambda t: (t.order, t.name))


def trick_tables(params: Mapping[str, BaseModel]) -> dict[str, dict[str, Any]]:
    """Resolved parameters as JSON tables: what a job records and hashes, so
    `[tricks.instance_noise]` and `{sigma = 0.1}` (its default) are one job, and `job.json`
    says which sigma ran."""
    return {name: p.model_dump(mode="json") for name, p in params.items()}
