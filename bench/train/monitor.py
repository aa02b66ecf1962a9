"""Training statistics and failure detectors, accumulated on the device.

Each iteration adds its losses, D's mean output on real and fake batches, and both gradient
norms to running sums on the training device (no host synchronisation). `flush` reads them
back once per log interval, writes one history row (with the `SampleProbe`'s measurements of
a fixed batch of fakes, when given), and runs the detectors on the rows so far.

Divergence (training stops, the job is recorded as `diverged` with the step and reason):
- `non_finite`: a NaN/inf loss;
- `d_loss_collapse`: D separates real from fake perfectly: its loss averaged over a whole
  log interval is within `D_LOSS_COLLAPSE` of the floor of the objective with the job's
  targets (`collapse_floor`: 0 for BCE with 0/1 targets, 0.325 with a 0.9 real target, half
  the target variance for least squares, 0 for hinge, none for Wasserstein), and G's
  gradient signal is gone (Arjovsky & Bottou 2017);
- `dead_training`: G can no longer learn, in one of two ways. Vanishing: for `DEAD_WINDOW`
  log points in a row G's largest gradient norm stayed below `DEAD_GRADIENT` and its output
  was constant (`diversity_ratio` below `DEAD_DIVERSITY`), e.g. a learning rate far too high
  saturates every unit and every gradient is exactly 0. Stuck: for the last `STUCK_STEPS`
  steps (at least `STUCK_POINTS` log points) G's output stayed nearly constant
  (`diversity_ratio` below `STUCK_DIVERSITY`), far from the data (`nearest_real_ratio` above
  `STUCK_DISTANCE`) and in place (that ratio varied by less than `STUCK_MOTION` of its
  largest value), e.g. a D far stronger than a tiny G leaves
  a grey blur. A G collapsed onto modes of the data that it hops between moves, so it is not
  "stuck" (that is `diversity_collapse`).
Warnings (recorded as events when they start to hold, training goes on):
- `gradient_explosion`: a gradient norm above `GRAD_NORM_LIMIT` (ganhacks: "track failures
  early");
- `d_loss_spike`: the interval's largest D loss is `SPIKE_SIGMAS` standard deviations above
  the preceding intervals' mean;
- `d_loss_variance`: the D loss variance within an interval grew `VARIANCE_GROWTH`-fold over
  the median of earlier intervals;
- `g_loss_falling_without_quality`: G's loss fell at each of the last `TREND_WINDOW` log
  points while the quality proxy did not improve. The proxy (no metric runs during
  training) is `nearest_real_ratio`: the mean distance of a fixed batch of fakes to their
  nearest real image, over the same for held-out real images (1 = as close as real data);
- `diversity_collapse`: `diversity_ratio`, the mean pairwise distance within the fixed batch
  of fakes over that within real data, stayed below `DIVERSITY_COLLAPSE` for
  `DIVERSITY_WINDOW` log points after having been above it (mode collapse; a freshly
  initialised G starts low, and a healthy ring GAN dips briefly while it spreads out);
- `oscillation`: the D loss trend changed sign at each of the last `OSCILLATION_WINDOW` log
  points with a swing above `OSCILLATION_AMPLITUDE` of its level.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.models.conditioning import call_net
from bench.train.losses import ConfiguredObjective
from bench.tricks.registry import TrainContext, Trick

FIELDS = ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm")
# Every threshold below is a guideline's (cited) or calibrated: its false-alarm rate on
# healthy runs and hit rate on broken ones are measured and tested, on recorded runs
# (tests/train/test_detector_calibration.py) and on many synthetic healthy runs with planted
# failures (tests/train/test_detector_false_alarms.py); docs/failure_detectors.md has the rates.
D_LOSS_COLLAPSE = 1e-3  # excess D loss over the objective's floor, in nats (BCE): calibrated
FLOOR_TARGETS = 4096  # targets drawn to measure the floor
FLOOR_SEED = 104729  # their own RNG, so measuring never shifts the training stream
DEAD_WINDOW = 3
DEAD_GRADIENT = 1e-6
DEAD_DIVERSITY = 1e-3  # G's output constant: calibrated (lr x1000 saturates to exactly 0)
STUCK_STEPS = 200  # steps, not log points: early on, G moves little per log point
STUCK_POINTS = 3
STUCK_DIVERSITY = 0.1
STUCK_DISTANCE = 1.5
STUCK_MOTION = 0.05
GRAD_NORM_LIMIT = 100.0  # ganhacks (Chintala et al. 2016), "track failures early": over 100
SPIKE_WINDOW = 4
SPIKE_SIGMAS = 20.0  # calibrated: healthy runs reach ~10; false alarms 0/15, 0.3% synthetic
VARIANCE_GROWTH = 20.0  # calibrated: false alarms 2.8% synthetic; a 100-fold growth is caught
TREND_WINDOW = 8
DIVERSITY_COLLAPSE = 0.1  # calibrated: healthy rings dip to 0.06 for a point; collapsed stay ~0.01
DIVERSITY_WINDOW = 3
OSCILLATION_WINDOW = 6  # calibrated with the amplitude: false alarms 0/15, 0.2% synthetic
OSCILLATION_AMPLITUDE = 0.1
PROBE_SIZE = 64
FAILED = ("non_finite", "d_loss_collapse", "dead_training")  # end a job as diverged
WARNINGS = (
    "gradient_explosion",
    "d_loss_spike",
    "d_loss_variance",
    "g_loss_falling_without_quality",
    "diversity_collapse",
    "oscillation",
)

Row = dict[str, float]


@dataclass(frozen=True)
class Event:
    """A detector firing: which one, at which step, and the evidence."""

    step: int
    detector: str
    detail: str


class SampleProbe:
    """A fixed batch of latents (with labels and paired input images) and two of real data.

    `measure(G)` gives `diversity_ratio` and `nearest_real_ratio` (see the module docstring)
    for G's current fakes of the fixed latents, with G in evaluation mode.
    """

    def __init__(
        self,
        reference: Tensor,
        held_out: Tensor,
        latent: Tensor,
        labels: Tensor | None,
        condition_image: Tensor | None,
    ) -> None:
        self.reference, self.latent, self.labels = reference, latent, labels
        self.condition_image = condition_image
        self.real_spread = _mean_pairwise(held_out)
        self.real_nearest = _mean_nearest(held_out, reference)

    @torch.no_grad()
    def measure(self, generator: nn.Module) -> Row:
        was_training = generator.training
        generator.eval()
        fake = call_net(generator, self.latent, self.labels, self.condition_image).float()
        generator.train(was_training)
        return {
            "diversity_ratio": (_mean_pairwise(fake) / self.real_spread).item(),
            "nearest_real_ratio": (_mean_nearest(fake, self.reference) / self.real_nearest).item(),
        }


def _mean_pairwise(batch: Tensor) -> Tensor:
    return torch.pdist(batch.flatten(1).float()).mean().clamp_min(1e-12)


def _mean_nearest(batch: Tensor, reference: Tensor) -> Tensor:
    distances = torch.cdist(batch.flatten(1).float(), reference.flatten(1).float())
    return distances.min(dim=1).values.mean().clamp_min(1e-12)


def collapse_floor(
    objective: ConfiguredObjective, tricks: Sequence[Trick], ctx: TrainContext
) -> float | None:
    """The D loss of perfect separation under `objective` with the targets `tricks` give.

    Targets (label smoothing, soft or noisy labels) come from the tricks' `d_targets` hooks on
    `FLOOR_TARGETS` ones and zeros, drawn from an RNG of their own. None: no floor.
    """
    if objective.objective.floor is None:
        return None
    rng = torch.Generator(device=ctx.device).manual_seed(FLOOR_SEED)
    probe = dataclasses.replace(ctx, rng=rng, phase="d")
    real = torch.ones(FLOOR_TARGETS, device=ctx.device)
    fake = torch.zeros(FLOOR_TARGETS, device=ctx.device)
    for trick in tricks:
        real, fake = trick.d_targets(real, fake, probe)
    return objective.objective.floor(real, fake)


class Monitor:
    """Running sums of `FIELDS` on the device; one host read per log interval.

    `collapse_floor`: the D loss of perfect separation (see `collapse_floor`); None: the
    objective has none, and `d_loss_collapse` cannot fire.
    """

    def __init__(self, device: torch.device, collapse_floor: float | None = 0.0):
        self.device = device
        self.collapse_floor = collapse_floor
        self.rows: list[Row] = []
        self.active: set[str] = set()
        self._reset()

    def _reset(self) -> None:
        self.sums = torch.zeros(len(FIELDS), device=self.device)
        self.squares = torch.zeros(len(FIELDS), device=self.device)
        self.maxima = torch.full((len(FIELDS),), -math.inf, device=self.device)
        self.count = 0
        self.first_step: int | None = None

    def record(self, step: int, values: Tensor) -> None:
        """Add one iteration's `FIELDS` (a 1-D tensor on the device)."""
        values = values.detach().float() if values.requires_grad else values.float()
        self.sums += values
        self.squares.addcmul_(values, values)
        torch.maximum(self.maxima, values, out=self.maxima)
        self.count += 1
        if self.first_step is None:
            self.first_step = step

    def flush(
        self, step: int, probe: Mapping[str, float] | None = None
    ) -> tuple[Row, list[Event], Event | None]:
        """Read the interval back: its history row, warning events and a divergence, if any."""
        n = max(self.count, 1)
        means = (self.sums / n).tolist()
        variances = (self.squares / n - (self.sums / n) ** 2).clamp_min(0).tolist()
        maxima = self.maxima.tolist()
        row: Row = {"step": step}
        for name, mean, var, peak in zip(FIELDS, means, variances, maxima, strict=True):
            row[name] = mean
            if name == "d_loss":
                row["d_loss_var"] = var
                row["d_loss_max"] = peak
            if name.endswith("grad_norm"):
                row[f"{name}_max"] = peak
        row.update(probe or {})
        first = self.first_step if self.first_step is not None else step
        self._reset()
        self.rows.append(row)
        return row, self._onsets(step), self._divergence(row, first, step)

    def _onsets(self, step: int) -> list[Event]:
        """Warnings that hold now but did not at the previous log point."""
        holding = {key: (detector, detail) for key, detector, detail in holding_warnings(self.rows)}
        events = [
            Event(step, detector, detail)
            for key, (detector, detail) in holding.items()
            if key not in self.active
        ]
        self.active = set(holding)
        return events

    def _divergence(self, row: Row, first: int, step: int) -> Event | None:
        if not all(math.isfinite(row[name]) for name in ("d_loss", "g_loss")):
            return Event(step, "non_finite", f"NaN/inf loss between steps {first} and {step}")
        floor = self.collapse_floor
        if floor is not None and row["d_loss"] - floor < D_LOSS_COLLAPSE:
            return Event(
                step,
                "d_loss_collapse",
                f"discriminator loss collapsed to {row['d_loss']:.3g} (its floor is {floor:.3g})"
                f" over steps {first}-{step}",
            )
        return dead_training(self.rows, step)


def dead_training(rows: list[Row], step: int) -> Event | None:
    """`dead_training` (see the module docstring) at the last of `rows`, or None."""
    probed = [r for r in rows if "diversity_ratio" in r and "nearest_real_ratio" in r]
    window = probed[-DEAD_WINDOW:]
    if len(window) == DEAD_WINDOW and len(probed) == len(rows):
        gradient = max(r["g_grad_norm_max"] for r in window)
        diversity = max(r["diversity_ratio"] for r in window)
        if gradient < DEAD_GRADIENT and diversity < DEAD_DIVERSITY:
            detail = (
                f"training is dead: G's gradient norm stayed below {DEAD_GRADIENT:g} and its "
                f"output constant from step {int(window[0]['step'])} to {step}"
            )
            return Event(step, "dead_training", detail)
    since = step - STUCK_STEPS
    window = [r for r in probed if r["step"] >= since]
    if len(window) < STUCK_POINTS or len(probed) < len(rows) or probed[0]["step"] > since:
        return None
    diversity = max(r["diversity_ratio"] for r in window)
    distances = [r["nearest_real_ratio"] for r in window]
    start, nearest, farthest = distances[0], min(distances), max(distances)
    if (
        diversity < STUCK_DIVERSITY
        and nearest > STUCK_DISTANCE
        and farthest - nearest < STUCK_MOTION * farthest
    ):
        detail = (
            f"training is stuck: from step {int(window[0]['step'])} to {step} G's output stayed "
            f"nearly constant (diversity <= {diversity:.2f}) and far from the data, in place "
            f"(nearest-real ratio {start:.2f} -> {distances[-1]:.2f})"
        )
        return Event(step, "dead_training", detail)
    return None


def judge_history(
    rows: list[Row], collapse_floor: float | None = 0.0
) -> tuple[list[Event], Event | None]:
    """The warnings and the divergence a `Monitor` would raise over recorded history rows.

    For calibrating the detectors on stored traces (docs/failure_detectors.md): each row is
    judged as `Monitor.flush` judges it, and judging stops at a divergence, as training does.
    """
    monitor = Monitor(torch.device("cpu"), collapse_floor)
    events: list[Event] = []
    for row in rows:
        step = int(row["step"])
        monitor.rows.append(row)
        events += monitor._onsets(step)
        divergence = monitor._divergence(row, step, step)
        if divergence is not None:
            return events, divergence
    return events, None


Firing = tuple[str, str, str]  # (key, detector, detail)


def holding_warnings(rows: list[Row]) -> Iterator[Firing]:
    """Every warning that holds at the last of `rows` (the history so far)."""
    yield from _gradient_explosion(rows)
    yield from _d_loss_spike(rows)
    yield from _d_loss_variance(rows)
    yield from _g_loss_falling_without_quality(rows)
    yield from _diversity_collapse(rows)
    yield from _oscillation(rows)


def _gradient_explosion(rows: list[Row]) -> Iterator[Firing]:
    for name in ("d_grad_norm", "g_grad_norm"):
        peak = rows[-1][f"{name}_max"]
        if peak > GRAD_NORM_LIMIT:
            yield f"gradient_explosion:{name}", "gradient_explosion", f"{name} reached {peak:.1f}"


def _d_loss_spike(rows: list[Row]) -> Iterator[Firing]:
    earlier = rows[-SPIKE_WINDOW - 1 : -1]
    if len(earlier) < SPIKE_WINDOW:
        return
    level = statistics.fmean(r["d_loss"] for r in earlier)
    spread = math.sqrt(statistics.fmean(r["d_loss_var"] for r in earlier))
    peak = rows[-1]["d_loss_max"]
    if spread > 0 and peak > level + SPIKE_SIGMAS * spread:
        detail = f"D loss peaked at {peak:.3g}, {(peak - level) / spread:.1f} sd above {level:.3g}"
        yield "d_loss_spike", "d_loss_spike", detail


def _d_loss_variance(rows: list[Row]) -> Iterator[Firing]:
    if len(rows) < 4:
        return
    typical = statistics.median(r["d_loss_var"] for r in rows[:-1])
    now = rows[-1]["d_loss_var"]
    if typical > 0 and now > VARIANCE_GROWTH * typical:
        detail = f"D loss variance {now:.3g} is {now / typical:.0f}x its median {typical:.3g}"
        yield "d_loss_variance", "d_loss_variance", detail


def _g_loss_falling_without_quality(rows: list[Row]) -> Iterator[Firing]:
    window = rows[-TREND_WINDOW:]
    if len(window) < TREND_WINDOW or "nearest_real_ratio" not in window[0]:
        return
    falling = all(b["g_loss"] < a["g_loss"] for a, b in itertools.pairwise(window))
    before, after = window[0]["nearest_real_ratio"], window[-1]["nearest_real_ratio"]
    if falling and after >= before:
        detail = (
            f"G loss fell {window[0]['g_loss']:.3g} -> {window[-1]['g_loss']:.3g} while the "
            f"nearest-real ratio went {before:.3g} -> {after:.3g}"
        )
        yield "g_loss_falling_without_quality", "g_loss_falling_without_quality", detail


def _diversity_collapse(rows: list[Row]) -> Iterator[Firing]:
    ratios = [r["diversity_ratio"] for r in rows if "diversity_ratio" in r]
    recent, earlier = ratios[-DIVERSITY_WINDOW:], ratios[:-DIVERSITY_WINDOW]
    if (
        len(recent) == DIVERSITY_WINDOW
        and max(recent) < DIVERSITY_COLLAPSE
        and max(earlier, default=0.0) >= DIVERSITY_COLLAPSE
    ):
        detail = f"fakes' pairwise distance stayed below {max(recent):.2f} of real data's"
        yield "diversity_collapse", "diversity_collapse", detail


def _oscillation(rows: list[Row]) -> Iterator[Firing]:
    window = [r["d_loss"] for r in rows[-OSCILLATION_WINDOW - 1 :]]
    if len(window) <= OSCILLATION_WINDOW:
        return
    diffs = [b - a for a, b in itertools.pairwise(window)]
    alternating = all(a * b < 0 for a, b in itertools.pairwise(diffs))
    swing = statistics.fmean(abs(d) for d in diffs)
    level = statistics.fmean(abs(v) for v in window)
    if alternating and swing > OSCILLATION_AMPLITUDE * level:
        detail = f"D loss swung by {swing:.3g} on average, alternating at every log point"
        yield "oscillation", "oscillation", detail
