"""The GAN training loop: D updates, then G updates, with every enabled trick at its hooks.

The loop never names a trick. Each iteration:
  1. `schedule` decides how many D and G updates this iteration gets (`d_steps`, `g_steps`).
  2. D update (x d_steps): real batch, z -> `sample_latent` -> G (no grad) -> `d_inputs` ->
     D on the real batch and on the fake batch separately (DCGAN's separate-batch BatchNorm
     statistics) -> `d_targets` -> BCE + `d_loss` terms -> Adam step.
  3. G update (x g_steps): z -> `sample_latent` -> G -> `d_inputs` -> D -> G loss
     (non-saturating or minimax) + `g_loss` terms -> Adam step.
  4. `after_step`, then the monitor adds this iteration's statistics on the device.
Every `train.log_every` iterations the monitor is read back (the only host sync), a history
row is written, and the failure detectors run; a divergence stops training and is returned
as a result, never raised.
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
from bench.train.losses import discriminator_loss, generator_loss
from bench.train.monitor import Event, Monitor
from bench.tricks.registry import LossTerms, TrainContext, Trick


class StopTraining(Exception):
    """Raised from `on_log` to end training early (e.g. a pruned tuning trial).

    The run ends normally; its outcome's status is `status` and `reason` says why.
    """

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class TrainOutcome:
    """What a training run produced: the trained nets, its history and how it ended."""

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


class GANStep:
    """One training iteration of a GAN with its tricks; holds nets, optimisers and data."""

    def __init__(
        self,
        cfg: JobConfig,
        data: Tensor,
        tricks: list[Trick],
        ctx: TrainContext,
    ) -> None:
        self.cfg, self.data, self.tricks, self.ctx = cfg, data, tricks, ctx
        generator, discriminator = build_models(cfg.model, tuple(data.shape[1:]))
        for trick in tricks:
            generator = trick.build_generator(generator, ctx)
            discriminator = trick.build_discriminator(discriminator, ctx)
        self.generator = generator.to(ctx.device)
        self.discriminator = discriminator.to(ctx.device)
        t = cfg.train
        self.opt_g = torch.optim.Adam(
            self.generator.parameters(), lr=t.lr_g, betas=(t.beta1, t.beta2)
        )
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=t.lr_d, betas=(t.beta1, t.beta2)
        )

    def latent(self) -> Tensor:
        ctx = self.ctx
        z = torch.randn(ctx.batch_size, ctx.latent_dim, generator=ctx.generator, device=ctx.device)
        for trick in self.tricks:
            z = trick.sample_latent(z, ctx)
        return z

    def real_batch(self) -> Tensor:
        """A batch drawn i.i.d. (with replacement) from the training split, seeded."""
        ctx = self.ctx
        index = torch.randint(
            0, self.data.shape[0], (ctx.batch_size,), generator=ctx.generator, device=ctx.device
        )
        return self.data[index]

    def discriminator_step(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        ctx, tricks = self.ctx, self.tricks
        ctx.phase = "d"
        real = self.real_batch()
        with torch.no_grad():
            fake = self.generator(self.latent())
        for trick in tricks:
            real, fake = trick.d_inputs(real, fake, ctx)
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(fake)
        real_target = torch.ones_like(real_logits)
        fake_target = torch.zeros_like(fake_logits)
        for trick in tricks:
            real_target, fake_target = trick.d_targets(real_target, fake_target, ctx)
        loss = discriminator_loss(real_logits, fake_logits, real_target, fake_target)
        terms = LossTerms(real_logits, fake_logits, real, fake, self.generator, self.discriminator)
        loss = loss + sum_terms(trick.d_loss(terms, ctx) for trick in tricks)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = gradient_norm(self.discriminator)
        self.opt_d.step()
        d_real = torch.sigmoid(real_logits.detach()).mean()
        d_fake = torch.sigmoid(fake_logits.detach()).mean()
        return loss.detach(), d_real, d_fake, grad_norm

    def generator_step(self) -> tuple[Tensor, Tensor]:
        ctx, tricks = self.ctx, self.tricks
        ctx.phase = "g"
        fake = self.generator(self.latent())
        real = None
        for trick in tricks:
            real, fake = trick.d_inputs(real, fake, ctx)
        fake_logits = self.discriminator(fake)
        loss = generator_loss(fake_logits, self.cfg.train.g_loss)
        terms = LossTerms(None, fake_logits, None, fake, self.generator, self.discriminator)
        loss = loss + sum_terms(trick.g_loss(terms, ctx) for trick in tricks)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = gradient_norm(self.generator)
        self.opt_g.step()
        return loss.detach(), grad_norm

    def iteration(self) -> Tensor:
        """One iteration; returns the monitor's `FIELDS` as a device tensor."""
        d_steps, g_steps = self.cfg.train.d_steps, self.cfg.train.g_steps
        for trick in self.tricks:
            d_steps, g_steps = trick.schedule(d_steps, g_steps, self.ctx)
        d_stats = [self.discriminator_step() for _ in range(d_steps)]
        g_stats = [self.generator_step() for _ in range(g_steps)]
        for trick in self.tricks:
            trick.after_step(self.generator, self.discriminator, self.ctx)
        d_mean = torch.stack([torch.stack(s) for s in d_stats]).mean(0)
        g_mean = torch.stack([torch.stack(s) for s in g_stats]).mean(0)
        d_loss, d_real, d_fake, d_grad = d_mean.unbind()
        g_loss, g_grad = g_mean.unbind()
        return torch.stack([d_loss, g_loss, d_real, d_fake, d_grad, g_grad])


def sum_terms(terms) -> Tensor | float:
    """Sum the extra loss terms tricks returned, skipping `None`."""
    present = [term for term in terms if term is not None]
    return torch.stack(present).sum() if present else 0.0


def train(
    cfg: JobConfig,
    seed: int,
    data: Tensor,
    tricks: list[Trick],
    device: torch.device,
    on_log: Callable[[dict[str, float], TrainOutcome], None] | None = None,
) -> TrainOutcome:
    """Train a GAN on `data` (already on `device`) for `cfg.train.steps` iterations.

    Same config, seed and device -> the same numbers (CPU is bit-reproducible).
    `on_log(row, outcome_so_far)` is called at every log point (after the detectors ran),
    e.g. to score the generator during training; an exception it raises stops training.
    """
    seed_everything(seed)
    ctx = TrainContext(
        device=device,
        generator=torch.Generator(device=device).manual_seed(seed),
        total_steps=cfg.train.steps,
        batch_size=cfg.train.batch_size,
        latent_dim=cfg.model.latent_dim,
        data_shape=tuple(data.shape[1:]),
        step=torch.zeros((), device=device),
    )
    for trick in tricks:
        trick.setup(ctx)
    step_fn = GANStep(cfg, data, tricks, ctx)
    monitor = Monitor(device)
    history: list[dict[str, float]] = []
    events: list[Event] = []
    divergence: Event | None = None
    stopped: StopTraining | None = None
    start = time.perf_counter()
    completed = 0
    for step in range(cfg.train.steps):
        ctx.step.fill_(step)
        monitor.record(step, step_fn.iteration())
        completed = step + 1
        if completed % cfg.train.log_every == 0 or completed == cfg.train.steps:
            row, warnings, divergence = monitor.flush(completed)
            history.append(row)
            events.extend(warnings)
            if divergence is not None:
                events.append(divergence)
                break
            if on_log is not None:
                try:
                    on_log(row, snapshot(step_fn, history, events, completed, start, None))
                except StopTraining as stop:
                    stopped = stop
                    break
    outcome = snapshot(step_fn, history, events, completed, start, divergence)
    outcome.stopped = stopped
    return outcome


def snapshot(
    step_fn: GANStep,
    history: list[dict[str, float]],
    events: list[Event],
    completed: int,
    start: float,
    divergence: Event | None,
) -> TrainOutcome:
    """The run so far as a `TrainOutcome` (the nets are live, not copies)."""
    return TrainOutcome(
        generator=step_fn.generator,
        discriminator=step_fn.discriminator,
        context=step_fn.ctx,
        tricks=step_fn.tricks,
        history=history,
        events=events,
        steps_completed=completed,
        train_time_s=time.perf_counter() - start,
        divergence=divergence,
    )
