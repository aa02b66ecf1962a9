"""History tricks: replayed fakes, swapped-in old checkpoints, historical and EMA averages."""

from __future__ import annotations

import copy
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register

State = dict[str, Tensor]
LABELLED_FAKES = "replayed fakes would need the labels (or input images) they were drawn with"


class HistoryTrick(Trick):
    """Shared by the tricks that keep something of the past (not registered itself)."""

    family = "history"
    capturable = True


class ReplayParams(TrickParams):
    ratio: float = Field(0.5, ge=0.0, le=1.0, description="fraction of D's fakes from the buffer")
    buffer_batches: int = Field(50, ge=1, le=10_000, description="buffer size, in batches")


@register
class ExperienceReplay(HistoryTrick):
    """Show D a `ratio` of past fakes from a buffer, refreshed with current fakes.

    Shrivastava et al. (2017), "Learning from Simulated and Unsupervised Images through
    Adversarial Training", sec. 2.3 (half of each batch from the history, half of it
    replaced by new fakes each step); Pfau & Vinyals (2016). The buffer size is not given
    there: 50 batches here. D updates only; G is trained on fresh fakes. The buffer fills
    in order, then random entries are overwritten; its fill count lives on the device and
    every write has a fixed shape (writes that must not land go to scratch rows past the
    end), so the step stays graph-capturable.
    """

    name = "experience_replay"
    citation = "Shrivastava et al. 2017, sec. 2.3; Pfau & Vinyals 2016; ganhacks tip 12"
    Params = ReplayParams
    refuses_conditioning = dict.fromkeys(("labels", "condition_image"), LABELLED_FAKES)
    order = 30  # before instance noise, so replayed fakes get fresh noise

    def setup(self, ctx: TrainContext) -> None:
        self.capacity = self.params.buffer_batches * ctx.batch_size
        self.buffer: Tensor | None = None  # `capacity` entries, then one scratch row per fake
        self.rows: Tensor | None = None
        self.filled = torch.zeros((), dtype=torch.long, device=ctx.device)

    def d_inputs(self, real: Tensor | None, fake: Tensor, ctx: TrainContext):
        if ctx.phase != "d":
            return real, fake
        if self.buffer is None:  # the first D update, in the eager warm-up
            self.buffer = fake.new_zeros((self.capacity + fake.shape[0], *fake.shape[1:]))
            self.rows = torch.arange(fake.shape[0], device=fake.device)
        replayed = round(self.params.ratio * fake.shape[0])
        mixed = fake
        if replayed:
            draw = torch.rand(replayed, generator=ctx.rng, device=fake.device)
            last = (self.filled - 1).clamp_min(0)
            index = torch.minimum((draw * self.filled).long(), last)  # uniform over the filled
            past = torch.where(self.filled > 0, self.buffer[index], fake[:replayed])
            mixed = torch.cat([past, fake[replayed:]])
        self._store(fake.detach(), replayed, ctx)
        return real, mixed

    def _store(self, fake: Tensor, replayed: int, ctx: TrainContext) -> None:
        """Fill the buffer in order; once full, overwrite `max(replayed, 1)` random entries
        with fresh fakes. The write that does not apply this time lands in scratch rows."""
        scratch = self.capacity + self.rows
        full = self.filled >= self.capacity
        ordered = self.filled + self.rows
        self.buffer.index_copy_(0, torch.where(ordered < self.capacity, ordered, scratch), fake)
        count = max(replayed, 1)
        where = torch.randint(0, self.capacity, (count,), generator=ctx.rng, device=fake.device)
        self.buffer[torch.where(full, where, scratch[:count])] = fake[:count]
        self.filled.copy_((self.filled + fake.shape[0]).clamp_max(self.capacity))


class SwapParams(TrickParams):
    every: int = Field(100, ge=1, description="iterations between snapshots (and swap chances)")
    duration: int = Field(5, ge=1, description="iterations an old snapshot stays swapped in")
    probability: float = Field(0.5, ge=0.0, le=1.0, description="chance of a swap at a snapshot")
    keep: int = Field(5, ge=1, le=100, description="snapshots kept (the newest)")
    network: Literal["discriminator", "generator", "both"] = "discriminator"


@register
class CheckpointSwapping(HistoryTrick):
    """Every `every` iterations snapshot the net, and maybe swap an old snapshot in for a while.

    ganhacks (Chintala et al. 2016), tip 12: "Keep checkpoints from the past of G and D and
    occasionally swap them out for a few iterations". The tip gives no numbers; the defaults
    are this harness's. Updates made during a swap are discarded when the current weights
    come back. Decides on the host, so it is not capturable.
    """

    name = "checkpoint_swapping"
    citation = "ganhacks (Chintala et al. 2016), tip 12"
    Params = SwapParams
    capturable = False  # decides swaps on the host

    def setup(self, ctx: TrainContext) -> None:
        self.iteration = 0
        self.snapshots: list[list[State]] = []
        self.current: list[State] | None = None
        self.restore_at: int | None = None

    def after_step(self, generator: nn.Module, discriminator: nn.Module, ctx: TrainContext) -> None:
        nets = {"discriminator": [discriminator], "generator": [generator]}
        swapped = nets.get(self.params.network, [generator, discriminator])
        self.iteration += 1
        if self.restore_at is not None:
            if self.iteration == self.restore_at:
                _load(swapped, self.current)
                self.current = self.restore_at = None
            return
        if self.iteration % self.params.every:
            return
        snapshot = _state(swapped)
        draw = torch.rand((), generator=ctx.rng, device=ctx.device).item()
        if self.snapshots and draw < self.params.probability:
            pick = int(draw / self.params.probability * len(self.snapshots))
            self.current = snapshot
            _load(swapped, self.snapshots[pick])
            self.restore_at = self.iteration + self.params.duration
        self.snapshots = [*self.snapshots, snapshot][-self.params.keep :]


def _state(nets: list[nn.Module]) -> list[State]:
    return [{k: v.detach().clone() for k, v in net.state_dict().items()} for net in nets]


def _load(nets: list[nn.Module], states: list[State] | None) -> None:
    for net, state in zip(nets, states or [], strict=True):
        net.load_state_dict(state)


class HistoricalAveragingParams(TrickParams):
    weight: float = Field(
        1e-3, gt=0.0, le=10.0, description="weight of ||theta - mean(theta)||^2 (no source value)"
    )


@register
class HistoricalAveraging(HistoryTrick):
    """Add weight * ||theta - mean of past thetas||^2 to each player's loss.

    Salimans et al. (2016), "Improved Techniques for Training GANs", sec. 3.3. The paper
    gives no weight; 1e-3 is this harness's default. The running mean is kept on the
    device, over the parameters after every iteration, with its count (so the step stays
    graph-capturable); there is no penalty before the first average exists.
    """

    name = "historical_averaging"
    citation = "Salimans et al. 2016, Improved Techniques for Training GANs, sec. 3.3"
    Params = HistoricalAveragingParams

    def setup(self, ctx: TrainContext) -> None:
        self.count = torch.zeros((), device=ctx.device)  # parameter snapshots averaged
        self.means: dict[str, list[Tensor]] = {}

    def running_means(self, role: str, net: nn.Module) -> list[Tensor]:
        """The mean of each of `net`'s parameters so far (made in the first iteration)."""
        if role not in self.means:
            self.means[role] = [torch.zeros_like(p, requires_grad=False) for p in net.parameters()]
        return self.means[role]

    @torch.no_grad()
    def after_step(self, generator: nn.Module, discriminator: nn.Module, ctx: TrainContext) -> None:
        self.count.add_(1)
        for role, net in (("generator", generator), ("discriminator", discriminator)):
            means = self.running_means(role, net)
            steps = torch._foreach_sub(list(net.parameters()), means)
            torch._foreach_div_(steps, self.count)
            torch._foreach_add_(means, steps)

    def penalty(self, role: str, net: nn.Module) -> Tensor:
        params = list(net.parameters())
        squares = [
            ((p - m) ** 2).sum() for p, m in zip(params, self.running_means(role, net), strict=True)
        ]
        penalty = self.params.weight * torch.stack(squares).sum()
        return torch.where(self.count > 0, penalty, 0.0)

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        return loss + self.penalty("discriminator", terms.discriminator)

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        return loss + self.penalty("generator", terms.generator)


class EMAParams(TrickParams):
    decay: float = Field(0.999, ge=0.0, lt=1.0, description="beta: weight of the old average")


def warmup_decay(decay: float, updates: Tensor) -> Tensor:
    """min(decay, (1 + t) / (10 + t)) after t updates: a young average forgets its start fast.

    TensorFlow's `ExponentialMovingAverage(num_updates=...)` uses this ramp; Karras et al.
    (2018, 2019) ramp the EMA half-life up over the first images for the same reason. Without
    it, decay 0.999 leaves the initial weights 0.999^t of the average (0.74 after 300 steps).
    """
    return torch.clamp((1.0 + updates) / (10.0 + updates), max=decay)


@register
class EMAGenerator(HistoryTrick):
    """Keep an exponential moving average of G's weights and score that average instead of G.

    Yazıcı et al. (2019), "The Unusual Effectiveness of Averaging in GAN Training"; Karras
    et al. (2018, Progressive GANs) use decay 0.999, the default. The decay warms up as
    `warmup_decay` (TensorFlow's num_updates rule), so the average starts at recent weights,
    not at the initialisation. BatchNorm running statistics are averaged with the same decay
    as the weights (as timm's ModelEmaV2 does), so the scored average carries statistics of
    the weights it averages, not of the last raw G (copying them pairs the averaged weights
    with the latest weights' statistics); this needs no extra forward passes or latents and
    keeps the update graph-capturable. Integer buffers (batch counters) are copied.
    """

    name = "ema_generator"
    citation = "Yazıcı et al. 2019; Karras et al. 2018 (decay 0.999); TF EMA num_updates warm-up"
    Params = EMAParams

    def setup(self, ctx: TrainContext) -> None:
        self.average: nn.Module | None = None

    @torch.no_grad()
    def after_step(self, generator: nn.Module, discriminator: nn.Module, ctx: TrainContext) -> None:
        if self.average is None:
            self.average = copy.deepcopy(generator).requires_grad_(False)
            return
        weight = 1.0 - warmup_decay(self.params.decay, ctx.step)
        for mean, param in zip(self.average.parameters(), generator.parameters(), strict=True):
            mean.lerp_(param, weight.to(mean.dtype))
        for mean, buffer in zip(self.average.buffers(), generator.buffers(), strict=True):
            if mean.is_floating_point():
                mean.lerp_(buffer, weight.to(mean.dtype))
            else:
                mean.copy_(buffer)

    def evaluation_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        return generator if self.average is None else self.average
