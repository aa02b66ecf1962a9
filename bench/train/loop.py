"""The GAN training loop: D updates, then G updates, with every enabled trick at its hooks.

The loop never names a trick. Before training: `prepare_data`, the nets (`build_*`), their
Adam optimisers (`optimizer` may replace them) and the objective some trick names (BCE on
logits by default). Each iteration:
  1. `schedule` decides how many D and G updates this iteration gets (`d_steps`, `g_steps`).
  2. D update (x d_steps): real batch (with its labels), z -> `sample_latent` -> G (no grad,
     labels drawn uniformly for conditional nets) -> `d_inputs` -> D on the real batch and
     on the fake batch separately (DCGAN's separate-batch BatchNorm statistics) ->
     `d_targets` -> objective -> `d_loss` hooks -> optimiser step.
  3. G update (x g_steps): z -> `sample_latent` -> G -> `d_inputs` -> D -> objective's G
     loss (non-saturating or minimax) -> `g_loss` hooks -> optimiser step.
  4. `after_step`, then the monitor adds this iteration's statistics on the device.
Every `train.log_every` iterations the monitor is read back (the only host sync), together
with the sample probe (a fixed batch of fakes); a history row is written, and the failure
detectors run; a divergence stops training and is returned as a result, never raised.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from bench.config import JobConfig
from bench.models import build_models
from bench.train.losses import configured_objective
from bench.train.monitor import PROBE_SIZE, Event, Monitor, SampleProbe, collapse_floor
from bench.tricks.registry import LossTerms, Nets, Role, TrainContext, Trick, call_net

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


def gradient_norm(module: nn.Module) -> Tensor:
    """L2 norm of all of a module's gradients, as a device tensor (no host sync)."""
    grads = [p.grad.detach().flatten() for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.cat(grads))


def update(optimizer: torch.optim.Optimizer, net: nn.Module, loss: Tensor) -> Tensor:
    """Backpropagate `loss` and step `optimizer`; returns `net`'s gradient norm before the step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = gradient_norm(net)
    optimizer.step()
    return grad_norm


class GANStep:
    """One training iteration of a GAN with its tricks; holds nets, optimisers and data.

    `labels` (one class index per training sample) are passed to conditional nets; fakes get
    labels drawn uniformly from `ctx.num_classes`.
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
        generator, discriminator = build_models(cfg.model, tuple(data.shape[1:]))
        for trick in tricks:
            generator = trick.build_generator(generator, ctx)
            discriminator = trick.build_discriminator(discriminator, ctx)
        self.generator = generator.to(ctx.device)
        self.discriminator = discriminator.to(ctx.device)
        ctx.nets = Nets(self.generator, self.discriminator)
        ctx.latent_prior = self.latent_batch
        self.opt_g = self.make_optimizer("generator", self.generator, cfg.train.lr_g)
        self.opt_d = self.make_optimizer("discriminator", self.discriminator, cfg.train.lr_d)
        objective = next((t.objective for t in tricks if t.objective), None)
        self.objective = configured_objective(objective, cfg.train.g_loss)
        self.last_d_stats = torch.zeros(4, device=ctx.device)
        self.last_g_stats = torch.zeros(2, device=ctx.device)

    def make_optimizer(self, role: Role, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        t = self.cfg.train
        optimizer: torch.optim.Optimizer = torch.optim.Adam(
            net.parameters(), lr=lr, betas=(t.beta1, t.beta2)
        )
        for trick in self.tricks:
            optimizer = trick.optimizer(role, optimizer, net, self.ctx)
        return optimizer

    def latent_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        """`n` latents (after `sample_latent`) with uniformly drawn labels where there are any."""
        ctx = self.ctx
        labels = None
        if ctx.num_classes is not None:
            labels = torch.randint(
                0, ctx.num_classes, (n,), generator=ctx.generator, device=ctx.device
            )
        z = torch.randn(n, ctx.latent_dim, generator=ctx.generator, device=ctx.device)
        for trick in self.tricks:
            z = trick.sample_latent(z, labels, ctx)
        return z, labels

    def real_batch(self) -> tuple[Tensor, Tensor | None]:
        """A batch drawn i.i.d. (with replacement) from the training split, seeded."""
        ctx = self.ctx
        index = torch.randint(
            0, self.data.shape[0], (ctx.batch_size,), generator=ctx.generator, device=ctx.device
        )
        return self.data[index], None if self.labels is None else self.labels[index]

    def discriminate(
        self,
        real: Tensor,
        fake: Tensor,
        real_labels: Tensor | None,
        fake_labels: Tensor | None,
        source: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """D's logits on the real and the fake batch: two batches (DCGAN's rule, so BatchNorm
        sees all-real and all-fake statistics), or one mixed batch when a trick asks for it."""
        if not any(trick.mixes_d_batches for trick in self.tricks):
            return (
                call_net(self.discriminator, real, real_labels, source),
                call_net(self.discriminator, fake, fake_labels, source),
            )
        labels = None if real_labels is None else torch.cat([real_labels, fake_labels])
        both = torch.cat([real, fake])
        logits = call_net(self.discriminator, both, labels, torch.cat([source, source]))
        return logits.split([len(real), len(fake)])

    def discriminator_step(self) -> Tensor:
        ctx, tricks = self.ctx, self.tricks
        ctx.phase = "d"
        real_raw, real_labels = self.real_batch()
        z, fake_labels = self.latent_batch(ctx.batch_size)
        with torch.no_grad():
            generated = call_net(self.generator, z, fake_labels, real_raw)
        real, fake = real_raw, generated
        for trick in tricks:
            real, fake = trick.d_inputs(real, fake, ctx)
        real_logits, fake_logits = self.discriminate(real, fake, real_labels, fake_labels, real_raw)
        real_target = torch.ones_like(real_logits)
        fake_target = torch.zeros_like(fake_logits)
        for trick in tricks:
            real_target, fake_target = trick.d_targets(real_target, fake_target, ctx)
        loss = self.objective.discriminator(real_logits, fake_logits, real_target, fake_target)
        terms = LossTerms(
            real_logits, fake_logits, real, fake, generated, z, real_labels, fake_labels,
            self.generator, self.discriminator, self.objective, real_raw,
        )  # fmt: skip
        for trick in tricks:
            loss = trick.d_loss(loss, terms, ctx)
        grad_norm = update(self.opt_d, self.discriminator, loss)
        ctx.last_d_loss.copy_(loss.detach())
        d_real = torch.sigmoid(real_logits.detach()).mean()
        d_fake = torch.sigmoid(fake_logits.detach()).mean()
        return torch.stack([loss.detach(), d_real, d_fake, grad_norm])

    def generator_step(self) -> Tensor:
        ctx, tricks = self.ctx, self.tricks
        ctx.phase = "g"
        real, real_labels = self.real_batch()
        z, fake_labels = self.latent_batch(ctx.batch_size)
        generated = call_net(self.generator, z, fake_labels, real)
        fake = generated
        for trick in tricks:
            _, fake = trick.d_inputs(None, fake, ctx)
        fake_logits = call_net(self.discriminator, fake, fake_labels, real)
        loss = self.objective.generator(fake_logits).mean()
        terms = LossTerms(
            None, fake_logits, real, fake, generated, z, real_labels, fake_labels,
            self.generator, self.discriminator, self.objective, real,
        )  # fmt: skip
        for trick in tricks:
            loss = trick.g_loss(loss, terms, ctx)
        grad_norm = update(self.opt_g, self.generator, loss)
        ctx.last_g_loss.copy_(loss.detach())
        return torch.stack([loss.detach(), grad_norm])

    def iteration(self) -> Tensor:
        """One iteration; returns the monitor's `FIELDS` as a device tensor.

        A phase the schedule skips this iteration reports its latest statistics again.
        """
        d_steps, g_steps = self.cfg.train.d_steps, self.cfg.train.g_steps
        for trick in self.tricks:
            d_steps, g_steps = trick.schedule(d_steps, g_steps, self.ctx)
        d_stats = [self.discriminator_step() for _ in range(d_steps)]
        g_stats = [self.generator_step() for _ in range(g_steps)]
        for trick in self.tricks:
            trick.after_step(self.generator, self.discriminator, self.ctx)
        if d_stats:
            self.last_d_stats = torch.stack(d_stats).mean(0)
        if g_stats:
            self.last_g_stats = torch.stack(g_stats).mean(0)
        d_loss, d_real, d_fake, d_grad = self.last_d_stats.unbind()
        g_loss, g_grad = self.last_g_stats.unbind()
        return torch.stack([d_loss, g_loss, d_real, d_fake, d_grad, g_grad])


def sample_probe(step_fn: GANStep, seed: int) -> SampleProbe:
    """A fixed batch of latents and two of real data, drawn from a seed of their own."""
    ctx, data = step_fn.ctx, step_fn.data
    rng = torch.Generator(device=ctx.device).manual_seed(seed + PROBE_SEED_OFFSET)
    size = min(PROBE_SIZE, data.shape[0] // 2)
    order = torch.randperm(data.shape[0], generator=rng, device=ctx.device)
    reference, held_out = data[order[:size]], data[order[size : 2 * size]]
    z = torch.randn(size, ctx.latent_dim, generator=rng, device=ctx.device)
    labels = None
    if ctx.num_classes is not None:
        labels = torch.randint(0, ctx.num_classes, (size,), generator=rng, device=ctx.device)
    return SampleProbe(reference, held_out, z, labels, source=held_out)


def train(
    cfg: JobConfig,
    seed: int,
    data: Tensor,
    tricks: list[Trick],
    device: torch.device,
    on_log: Callable[[dict[str, float], TrainOutcome], None] | None = None,
    labels: Tensor | None = None,
    num_classes: int | None = None,
) -> TrainOutcome:
    """Train a GAN on `data` (already on `device`) for `cfg.train.steps` iterations.

    `labels` (on `device`) and `num_classes` let conditional nets see class labels.
    `on_log(row, outcome so far)` runs at each log point unless the run diverged there; it
    may raise `StopTraining` to end the run with that status.
    Same config, seed and device -> the same numbers (CPU is bit-reproducible).
    """
    seed_everything(seed)
    ctx = TrainContext(
        device=device,
        generator=torch.Generator(device=device).manual_seed(seed),
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
    step_fn = GANStep(cfg, data, tricks, ctx, labels)
    probe = sample_probe(step_fn, seed)
    monitor = Monitor(device, collapse_floor(step_fn.objective, tricks, ctx))
    outcome = TrainOutcome(
        step_fn.generator, step_fn.discriminator, ctx, tricks, [], [], 0, 0.0
    )  # fmt: skip
    start = time.perf_counter()
    for step in range(cfg.train.steps):
        ctx.step.fill_(step)
        monitor.record(step, step_fn.iteration())
        completed = step + 1
        if completed % cfg.train.log_every and completed != cfg.train.steps:
            continue
        row, warnings, divergence = monitor.flush(completed, probe.measure(step_fn.generator))
        outcome.history.append(row)
        outcome.events.extend(warnings)
        outcome.steps_completed = completed
        outcome.train_time_s = time.perf_counter() - start
        if divergence is not None:
            outcome.events.append(divergence)
            outcome.divergence = divergence
            break
        if on_log is not None:
            try:
                on_log(row, outcome)
            except StopTraining as stop:
                outcome.stopped = stop
                break
    outcome.steps_completed = completed
    outcome.train_time_s = time.perf_counter() - start
    return outcome
