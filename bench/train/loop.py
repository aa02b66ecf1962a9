"""The GAN training loop: D updates, then G updates, with every enabled trick at its hooks.

The loop never names a trick. Before training: `prepare_data`, the nets (`build_*`), their
Adam optimisers (`optimizer` may replace them) and the objective some trick names (BCE on
logits by default). Each iteration:
  1. `schedule` decides how many D and G updates this iteration gets (`d_steps`, `g_steps`).
  2. D update (x d_steps): real batch (with its labels), z -> `sample_latent` -> G (no grad,
     labels drawn uniformly for conditional nets) -> `d_inputs` -> D on the real batch and
     on the fake batch separately (DCGAN's separate-batch BatchNorm statistics) ->
     `d_targets` -> objective -> `d_loss` hooks -> backward -> `gradients` -> optimiser step
     -> `after_update`.
  3. G update (x g_steps), D's parameters frozen (`frozen`): z -> `sample_latent` -> G ->
     `d_inputs` -> D -> objective's G loss (non-saturating or minimax) -> `g_loss` hooks ->
     backward -> `gradients` -> optimiser step -> `after_update`. A real batch is gathered
     only where something reads it: a trick's `g_loss` (`reads_real_in_g_step`, e.g.
     feature matching) or a net that takes it as its input image (pix2pix). Its indices
     are drawn either way, so the job's RNG stream does not depend on it.
  4. `after_step`, then the monitor adds this iteration's statistics on the device.
The loss hooks of both updates get a `LossTerms`, built in one place (`GANStep.loss_terms`).
Nets that take an input image (pix2pix's paired nets) get the update's untransformed real
batch; no other net is given one.

Every `train.log_every` iterations the monitor is read back (the only host sync), together
with the sample probe (a fixed batch of fakes); a history row is written, and the failure
detectors run; a divergence stops training and is returned as a result, never raised.

The real batch, latents and labels are drawn from the job's RNG on the device into buffers
allocated once, and the statistics go to fixed buffers, so on CUDA an iteration can be
captured as a graph and replayed (`bench.train.capture`; docs/gpu.md).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple, ParamSpec, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from bench.config import JobConfig
from bench.models.conditioning import call_net, conditioning
from bench.models.registry import build_networks
from bench.train.capture import (
    CudaGraphs,
    ReplayScheduler,
    choose_execution,
    job_stream,
    optimizer_options,
)
from bench.train.losses import configured_objective
from bench.train.monitor import FIELDS, PROBE_SIZE, Event, Monitor, SampleProbe, collapse_floor
from bench.tricks.registry import LossTerms, Nets, Role, TrainContext, Trick

PROBE_SEED_OFFSET = 7919  # the probe's own RNG, so probing never shifts the training stream


class StopTraining(Exception):
    """Raised by an `on_log` callback to end training early, e.g. a pruned tuning trial."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class TrainOutcome:
    """What a training run produced (so far): the nets, its history and how it ended."""

    generator: nn.Module
    discriminator: nn.Module
    context: TrainContext
    tricks: list[Trick]
    history: list[dict[str, float]]
    events: list[Event]
    steps_completed: int
    train_time_s: float
    divergence: Event | None = None
    stopped: StopTraining | None = None
    execution: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.divergence:
            return "diverged"
        return self.stopped.status if self.stopped else "ok"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch's global RNGs (model init uses torch's)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def gradient_norm(params: Sequence[Tensor]) -> Tensor:
    """L2 norm of the gradients of a net's `params`, as a tensor on their device (no host sync).

    One foreach kernel for the per-tensor norms, no concatenated copy of the gradients; a
    net without gradients gives a zero on its own device (stackable with the others).
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=params[0].device if params else None)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


@contextmanager
def frozen(params: Iterable[Tensor]) -> Iterator[None]:
    """A net's trainable `params` need no gradient inside: G's update backpropagates through D
    but has no use for D's weight gradients (per-phase `requires_grad_`, as in StyleGAN2-ADA,
    Karras et al. 2020). Only the parameters that were trainable get their flag back."""
    trainable = [p for p in params if p.requires_grad]
    for p in trainable:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in trainable:
            p.requires_grad_(True)


D_FIELDS = ("d_loss", "d_real", "d_fake", "d_grad_norm")  # what a D update returns, in order
G_FIELDS = ("g_loss", "g_grad_norm")  # what a G update returns, in order


class Player(NamedTuple):
    """G or D as its update uses it: the net, its optimiser and its parameters (listed once)."""

    net: nn.Module
    optimizer: torch.optim.Optimizer
    params: tuple[Tensor, ...]


@dataclass(frozen=True)
class Draw:
    """One update's draws from the job's RNG: a real batch, latents, and their labels.

    `real` and `real_labels` are None in a G update that gathers no real batch (see
    `GANStep.g_step_gathers_real`). `condition_image` is the untransformed real batch where a
    net takes one (pix2pix's paired nets), else None.
    """

    real: Tensor | None
    real_labels: Tensor | None
    latent: Tensor
    fake_labels: Tensor | None
    condition_image: Tensor | None


class GANStep:
    """One training iteration of a GAN with its tricks; holds nets, optimisers and data.

    `labels` (one class index per training sample) are passed to conditional nets; fakes get
    labels drawn uniformly from `ctx.num_classes`.

    A G update gathers a real batch only where something reads it (`g_step_gathers_real`): a
    trick whose `g_loss` does (`Trick.reads_real_in_g_step`), or a net that takes it as its
    input image (pix2pix). It draws the batch's indices all the same (`Draws.skip_real`), so
    the job's RNG stream is the one every recorded result was made with.
    """

    def __init__(
        self,
        cfg: JobConfig,
        data: Tensor,
        tricks: list[Trick],
        ctx: TrainContext,
        labels: Tensor | None = None,
    ) -> None:
        self.cfg, self.data, self.labels, self.tricks, self.ctx = cfg, data, labels, tricks, ctx
        generator, discriminator = build_networks(cfg.model, tuple(data.shape[1:]), ctx.num_classes)
        for trick in tricks:
            generator = trick.build_generator(generator, ctx)
            discriminator = trick.build_discriminator(discriminator, ctx)
        self.generator = generator.to(ctx.device)
        self.discriminator = discriminator.to(ctx.device)
        ctx.nets = Nets(self.generator, self.discriminator)
        ctx.latent_prior = self.latent_batch
        self.opt_g = self.make_optimizer("generator", self.generator, cfg.train.lr_g)
        self.opt_d = self.make_optimizer("discriminator", self.discriminator, cfg.train.lr_d)
        self.players: dict[Role, Player] = {
            "generator": Player(self.generator, self.opt_g, tuple(self.generator.parameters())),
            "discriminator": Player(
                self.discriminator, self.opt_d, tuple(self.discriminator.parameters())
            ),
        }
        objective = next((t.objective for t in tricks if t.objective), None)
        self.objective = configured_objective(objective, cfg.train.g_loss)
        self.paired = any(
            "condition_image" in conditioning(net) for net in (self.generator, self.discriminator)
        )
        self.g_step_gathers_real = self.paired or any(t.reads_real_in_g_step for t in tricks)
        self.mixes_d_batches = any(trick.mixes_d_batches for trick in tricks)
        self.stats = torch.zeros(len(FIELDS), device=ctx.device)  # `FIELDS`, in place
        self.d_fields = field_index(D_FIELDS, ctx.device)
        self.g_fields = field_index(G_FIELDS, ctx.device)
        self.draws = Draws(data, labels, ctx)

    def make_optimizer(self, role: Role, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        t = self.cfg.train
        optimizer: torch.optim.Optimizer = torch.optim.Adam(
            net.parameters(), lr=lr, betas=(t.beta1, t.beta2), **optimizer_options(self.ctx.device)
        )
        for trick in self.tricks:
            optimizer = trick.optimizer(role, optimizer, net, self.ctx)
        return optimizer

    def latent_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        """`n` latents (after `sample_latent`) with uniformly drawn labels where there are any.

        A training batch (`n` = batch size) is drawn into the step's fixed buffers.
        """
        ctx = self.ctx
        z, labels = self.draws.latents(n)
        for trick in self.tricks:
            z = trick.sample_latent(z, labels, ctx)
        return z, labels

    def draw(self, gather_real: bool) -> Draw:
        """This update's real batch (its indices only, unless `gather_real`), then its latents."""
        if gather_real:
            real, real_labels = self.draws.real()
        else:
            self.draws.skip_real()
            real = real_labels = None
        z, fake_labels = self.latent_batch(self.ctx.batch_size)
        return Draw(real, real_labels, z, fake_labels, real if self.paired else None)

    def generate(self, draw: Draw) -> Tensor:
        """G's output on the update's latents, with the labels or input image it takes."""
        return call_net(self.generator, draw.latent, draw.fake_labels, draw.condition_image)

    def discriminate(self, real: Tensor, fake: Tensor, draw: Draw) -> tuple[Tensor, Tensor]:
        """D's logits on the real and the fake batch: two batches (DCGAN's rule, so BatchNorm
        sees all-real and all-fake statistics), or one mixed batch when a trick asks for it."""
        condition = draw.condition_image
        if not self.mixes_d_batches:
            return (
                call_net(self.discriminator, real, draw.real_labels, condition),
                call_net(self.discriminator, fake, draw.fake_labels, condition),
            )
        labels = None
        if draw.real_labels is not None:
            labels = torch.cat([draw.real_labels, draw.fake_labels])
        conditions = None if condition is None else torch.cat([condition, condition])
        logits = call_net(self.discriminator, torch.cat([real, fake]), labels, conditions)
        return logits.split([len(real), len(fake)])

    def discriminator_step(self) -> tuple[Tensor, ...]:
        """One D update; returns its statistics in the order of `D_FIELDS`."""
        ctx, tricks = self.ctx, self.tricks
        ctx.phase = "d"
        draw = self.draw(gather_real=True)
        with torch.no_grad():
            generated = self.generate(draw)
        real, fake = draw.real, generated
        for trick in tricks:
            real, fake = trick.d_inputs(real, fake, ctx)
        real_logits, fake_logits = self.discriminate(real, fake, draw)
        real_target, fake_target = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
        for trick in tricks:
            real_target, fake_target = trick.d_targets(real_target, fake_target, ctx)
        loss = self.objective.discriminator(real_logits, fake_logits, real_target, fake_target)
        terms = self.loss_terms(draw, generated, real, fake, real_logits, fake_logits)
        for trick in tricks:
            loss = trick.d_loss(loss, terms, ctx)
        grad_norm = self.update("discriminator", loss)
        with torch.no_grad():
            ctx.last_d_loss.copy_(loss)
            d_real = torch.sigmoid(real_logits).mean()
            d_fake = torch.sigmoid(fake_logits).mean()
        return loss.detach(), d_real, d_fake, grad_norm

    def generator_step(self) -> tuple[Tensor, ...]:
        """One G update, D frozen; returns its statistics in the order of `G_FIELDS`."""
        with frozen(self.players["discriminator"].params):
            return self.generator_update()

    def generator_update(self) -> tuple[Tensor, ...]:
        ctx, tricks = self.ctx, self.tricks
        ctx.phase = "g"
        draw = self.draw(gather_real=self.g_step_gathers_real)
        generated = self.generate(draw)
        fake = generated
        for trick in tricks:
            _, fake = trick.d_inputs(None, fake, ctx)
        fake_logits = call_net(self.discriminator, fake, draw.fake_labels, draw.condition_image)
        loss = self.objective.generator(fake_logits).mean()
        terms = self.loss_terms(draw, generated, draw.real, fake, None, fake_logits)
        for trick in tricks:
            loss = trick.g_loss(loss, terms, ctx)
        grad_norm = self.update("generator", loss)
        with torch.no_grad():
            ctx.last_g_loss.copy_(loss)
        return loss.detach(), grad_norm

    def update(self, role: Role, loss: Tensor) -> Tensor:
        """Backpropagate `loss` into G or D (`role`), let the tricks' `gradients` hooks change
        the gradients, step its optimiser, then call their `after_update` hooks; returns the
        net's gradient norm as backpropagated (before those hooks), so the failure detectors
        see an exploding gradient even when a trick clips it."""
        net, optimizer, params = self.players[role]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = gradient_norm(params)
        for trick in self.tricks:
            trick.gradients(role, net, self.ctx)
        optimizer.step()
        for trick in self.tricks:
            trick.after_update(role, net, self.ctx)
        return grad_norm

    def loss_terms(
        self,
        draw: Draw,
        generated: Tensor,
        real: Tensor | None,
        fake: Tensor,
        real_logits: Tensor | None,
        fake_logits: Tensor,
    ) -> LossTerms:
        """What the loss hooks get: the update's draws, G's raw output, the real and fake
        batches as D saw them (in G updates: the untransformed real batch, or None) and D's
        logits on them (in G updates D scores no real batch)."""
        return LossTerms(
            real_logits=real_logits,
            fake_logits=fake_logits,
            real=real,
            fake=fake,
            generated=generated,
            latent=draw.latent,
            real_labels=draw.real_labels,
            fake_labels=draw.fake_labels,
            generator=self.generator,
            discriminator=self.discriminator,
            objective=self.objective,
            condition_image=draw.condition_image,
        )

    def schedule(self) -> tuple[int, int]:
        """This iteration's (D updates, G updates): its schedule pattern (fixed once captured)."""
        d_steps, g_steps = self.cfg.train.d_steps, self.cfg.train.g_steps
        for trick in self.tricks:
            d_steps, g_steps = trick.schedule(d_steps, g_steps, self.ctx)
        return d_steps, g_steps

    def iteration(self, pattern: tuple[int, int] | None = None) -> Tensor:
        """One iteration of `pattern` (default: `schedule()`); returns the monitor's `FIELDS`
        as a device tensor, the same one every iteration (overwritten in place).

        A phase the schedule skips this iteration reports its latest statistics again.
        """
        d_steps, g_steps = pattern or self.schedule()
        d_stats = [self.discriminator_step() for _ in range(d_steps)]
        g_stats = [self.generator_step() for _ in range(g_steps)]
        for trick in self.tricks:
            trick.after_step(self.generator, self.discriminator, self.ctx)
        if d_stats and g_stats:  # one small kernel writes all of `FIELDS`
            values = dict(zip(D_FIELDS + G_FIELDS, _mean(d_stats) + _mean(g_stats), strict=True))
            torch.stack([values[name] for name in FIELDS], out=self.stats)
        elif d_stats:
            self.stats.index_copy_(0, self.d_fields, torch.stack(_mean(d_stats)))
        elif g_stats:
            self.stats.index_copy_(0, self.g_fields, torch.stack(_mean(g_stats)))
        return self.stats


def field_index(names: tuple[str, ...], device: torch.device) -> Tensor:
    """Where `names` sit in the monitor's `FIELDS`, as an index tensor on `device`."""
    return torch.tensor([FIELDS.index(name) for name in names], device=device)


def _mean(stats: list[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
    """Each statistic averaged over a phase's updates."""
    if len(stats) == 1:
        return stats[0]
    return tuple(torch.stack([torch.stack(s) for s in stats]).mean(0).unbind())


class Draws:
    """The step's random draws from the job's RNG, on the device, into buffers made once.

    A training batch (real images and labels, latents and fake labels) always lands in the
    same memory, as graph replay needs; other sizes (tricks drawing through
    `ctx.latent_prior`) get fresh tensors. Same RNG calls, same numbers as drawing afresh.
    """

    def __init__(self, data: Tensor, labels: Tensor | None, ctx: TrainContext) -> None:
        self.data, self.labels, self.ctx = data, labels, ctx
        n, device = ctx.batch_size, ctx.device
        self.index = torch.zeros(n, dtype=torch.long, device=device)
        self.images = data.new_empty((n, *data.shape[1:]))
        self.image_labels = None if labels is None else labels.new_empty(n)
        self.z = torch.empty(n, ctx.latent_dim, device=device)
        self.z_labels = None
        if ctx.num_classes is not None:
            self.z_labels = torch.zeros(n, dtype=torch.long, device=device)

    def real(self) -> tuple[Tensor, Tensor | None]:
        """A batch drawn i.i.d. (with replacement) from the training split, with its labels."""
        self.skip_real()
        torch.index_select(self.data, 0, self.index, out=self.images)
        if self.labels is None:
            return self.images, None
        return self.images, torch.index_select(self.labels, 0, self.index, out=self.image_labels)

    def skip_real(self) -> None:
        """Draw a batch's indices as `real` does, but gather no images or labels.

        For a G update that reads no real batch: it still takes the draw, so the job's RNG
        stream stays the one every recorded number was made with, when every G update
        gathered a real batch (changing the stream would invalidate the known effects, the
        README's figures and the regression baselines).
        """
        self.index.random_(0, self.data.shape[0], generator=self.ctx.rng)  # = randint

    def latents(self, n: int) -> tuple[Tensor, Tensor | None]:
        ctx = self.ctx
        if n != ctx.batch_size:
            return ctx.draw_prior(n)
        if self.z_labels is not None:  # in place: the same numbers as randint / randn
            self.z_labels.random_(0, ctx.num_classes, generator=ctx.rng)
        return self.z.normal_(generator=ctx.rng), self.z_labels


def sample_probe(gan_step: GANStep, seed: int) -> SampleProbe:
    """A fixed batch of latents and two of real data, drawn from a seed of their own; paired
    nets complete the held-out images."""
    ctx, data = gan_step.ctx, gan_step.data
    rng = torch.Generator(device=ctx.device).manual_seed(seed + PROBE_SEED_OFFSET)
    size = min(PROBE_SIZE, data.shape[0] // 2)
    order = torch.randperm(data.shape[0], generator=rng, device=ctx.device)
    reference, held_out = data[order[:size]], data[order[size : 2 * size]]
    z, labels = ctx.draw_prior(size, rng)
    condition_image = held_out if gan_step.paired else None
    return SampleProbe(reference, held_out, z, labels, condition_image)


TrainingSteps = Generator[None, None, TrainOutcome]
P = ParamSpec("P")


class Checkpoints(Protocol):
    """Scoring G during training (`bench.run.job.scoring.EvaluationPoints`): the steps before the
    end at which to score, and the call that scores the outcome so far (it may raise
    `StopTraining`). It must not draw from the training RNG."""

    steps: frozenset[int]

    def __call__(self, step: int, outcome: TrainOutcome) -> None: ...


def run_to_end(steps: TrainingSteps) -> TrainOutcome:
    """Drive a stepwise run (`training`) to its end and return what it returns."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def to_end(stepwise: Callable[P, TrainingSteps]) -> Callable[P, TrainOutcome]:
    """`stepwise` with the same arguments, driven to its end (`run_to_end`)."""

    def run(*args: P.args, **kwargs: P.kwargs) -> TrainOutcome:
        return run_to_end(stepwise(*args, **kwargs))

    return run


def training(
    cfg: JobConfig,
    seed: int,
    data: Tensor,
    tricks: list[Trick],
    device: torch.device | str,
    on_log: Callable[[dict[str, float], TrainOutcome], None] | None = None,
    labels: Tensor | None = None,
    num_classes: int | None = None,
    capture: bool = True,
    checkpoints: Checkpoints | None = None,
) -> TrainingSteps:
    """Train a GAN on `data` (already on `device`) for `cfg.train.steps` iterations, one
    iteration per `next()`: a generator that returns the `TrainOutcome` (`train` runs it to
    the end; packed runs, `bench.run.executors.packed`, interleave several jobs' on one GPU).

    `labels` (on `device`) and `num_classes` let conditional nets see class labels.
    `on_log(row, outcome so far)` runs at each log point unless the run diverged there; it
    may raise `StopTraining` to end the run with that status. `checkpoints` scores G at its
    steps (log points or not), after the divergence check of a log point and before
    `on_log`; it may stop the run the same way, and its time is not training time. On CUDA
    the step is captured as a graph when every trick allows it, unless `capture=False`
    (`--no-capture`);
    `outcome.execution` says how it ran. Same config, seed and device -> the same numbers
    (CPU is bit-reproducible).
    """
    device = torch.device(device)
    seed_everything(seed)
    ctx = TrainContext(
        device=device,
        rng=torch.Generator(device=device).manual_seed(seed),
        total_steps=cfg.train.steps,
        batch_size=cfg.train.batch_size,
        latent_dim=cfg.model.latent_dim,
        data_shape=tuple(data.shape[1:]),
        num_classes=num_classes if labels is not None else None,
        step=torch.zeros((), device=device),
        last_d_loss=torch.zeros((), device=device),
        last_g_loss=torch.zeros((), device=device),
    )
    for trick in tricks:
        trick.setup(ctx)
    for trick in tricks:
        data = trick.prepare_data(data, ctx)
    gan_step = GANStep(cfg, data, tricks, ctx, labels)
    probe = sample_probe(gan_step, seed)
    monitor = Monitor(device, collapse_floor(gan_step.objective, tricks, ctx))
    outcome = TrainOutcome(
        gan_step.generator, gan_step.discriminator, ctx, tricks, [], [], 0, 0.0
    )  # fmt: skip
    chosen = choose_execution(tricks, device, capture)
    outcome.execution = chosen.record()
    run_iteration, scheduler = gan_step.iteration, None
    if chosen.mode == "graph":
        graphs = CudaGraphs(gan_step.iteration, ctx.rng, job_stream())
        scheduler = ReplayScheduler(graphs.eager, graphs.capture, graphs.replay)
        run_iteration = scheduler.run
    start, scoring = time.perf_counter(), 0.0
    for step in range(cfg.train.steps):
        ctx.step.fill_(step)
        monitor.record(step, run_iteration(gan_step.schedule()))
        completed = step + 1
        yield
        logged = not completed % cfg.train.log_every or completed == cfg.train.steps
        scored = checkpoints is not None and completed in checkpoints.steps
        if not logged and not scored:
            continue
        outcome.steps_completed = completed
        outcome.train_time_s = time.perf_counter() - start - scoring
        if logged:
            row, warnings, divergence = monitor.flush(completed, probe.measure(gan_step.generator))
            outcome.history.append(row)
            outcome.events.extend(warnings)
            if divergence is not None:
                outcome.events.append(divergence)
                outcome.divergence = divergence
                break
        began = time.perf_counter()
        try:
            if scored:
                checkpoints(completed, outcome)
            if logged and on_log is not None:
                on_log(row, outcome)
        except StopTraining as stop:
            outcome.stopped = stop
            break
        finally:
            scoring += time.perf_counter() - began if scored else 0.0
    outcome.steps_completed = completed
    outcome.train_time_s = time.perf_counter() - start - scoring
    outcome.execution = (scheduler.execution(chosen) if scheduler else chosen).record()
    return outcome


train = to_end(training)  # `training` run to its end: returns the `TrainOutcome`
