"""Training statistics and failure detectors, accumulated on the device.

Each iteration adds its losses, D's mean output on real and fake batches, and both gradient
norms to running sums on the training device (no host synchronisation). `flush` reads them
back once per log interval, writes one history row (with the `SampleProbe`'s measurements of
a fixed batch of fakes, when given), and runs the detectors on the rows so far.

Divergence (training stops, the job is recorded as `diverged` with the step and reason):
- `non_finite`: a NaN/inf loss;
- `d_loss_collapse`: D separates real from fake perfectly: its loss averaged over a whole
  log interval is below the objective's floor (1e-3 for BCE and least squares; none for
  hinge and Wasserstein), and G's gradient signal is gone (Arjovsky & Bottou 2017).
Warnings (recorded as events when they start to hold, training goes on):
- `gradient_explosion`: a gradient norm above 100 (ganhacks #13);
- `d_loss_spike`: the interval's largest D loss is `SPIKE_SIGMAS` standard deviations above
  the preceding intervals' mean;
- `d_loss_variance`: the D loss variance within an interval grew `VARIANCE_GROWTH`-fold over
  the median of earlier intervals;
- `g_loss_falling_without_quality`: G's loss fell at each of the last `TREND_WINDOW` log
  points while the quality proxy did not improve. The proxy (no metric runs during
  training) is `nearest_real_ratio`: the mean distance of a fixed batch of fakes to their
  nearest real image, over the same for held-out real images (1 = as close as real data);
- `diversity_collapse`: `diversity_ratio`, the mean pairwise distance within the fixed batch
  of fakes over that within real data, fell below `DIVERSITY_COLLAPSE` after having been
  above it (mode collapse; a freshly initialised G starts low);
- `oscillation`: the D loss trend changed sign at each of the last `OSCILLATION_WINDOW` log
  points with a swing above `OSCILLATION_AMPLITUDE` of its level.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.tricks.registry import call_net

FIELDS = ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm")
D_LOSS_COLLAPSE = 1e-3
GRAD_NORM_LIMIT = 100.0
SPIKE_WINDOW = 4
SPIKE_SIGMAS = 4.0
VARIANCE_GROWTH = 10.0
TREND_WINDOW = 5
DIVERSITY_COLLAPSE = 0.25
OSCILLATION_WINDOW = 6
OSCILLATION_AMPLITUDE = 0.1
PROBE_SIZE = 64

Row = dict[str, float]


@dataclass(frozen=True)
class Event:
    """A detector firing: which one, at which step, and the evidence."""

    step: int
    detector: str
    detail: str


class SampleProbe:
    """A fixed batch of latents (with labels and paired sources) and two of real data.

    `measure(G)` gives `diversity_ratio` and `nearest_real_ratio` (see the module docstring)
    for G's current fakes of the fixed latents, with G in evaluation mode.
    """

    def __init__(
        self,
        reference: Tensor,
        held_out: Tensor,
        latent: Tensor,
        labels: Tensor | None,
        source: Tensor | None,
    ) -> None:
        self.reference, self.latent, self.labels, self.source = reference, latent, labels, source
        self.real_spread = _mean_pairwise(held_out)
        self.real_nearest = _mean_nearest(held_out, reference)

    @torch.no_grad()
    def measure(self, generator: nn.Module) -> Row:
        was_training = generator.training
        generator.eval()
        fake = call_net(generator, self.latent, self.labels, self.source).float()
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


class Monitor:
    """Running sums of `FIELDS` on the device; one host read per log interval."""

    def __init__(self, device: torch.device, collapse_threshold: float | None = D_LOSS_COLLAPSE):
        self.device = device
        self.collapse_threshold = collapse_threshold
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
        if self.collapse_threshold is not None and row["d_loss"] < self.collapse_threshold:
            return Event(
                step,
                "d_loss_collapse",
                f"discriminator loss collapsed to {row['d_loss']:.2e} over steps {first}-{step}",
            )
        return None


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
    ratio = rows[-1].get("diversity_ratio")
    earlier = [r["diversity_ratio"] for r in rows[:-1] if "diversity_ratio" in r]
    if (
        ratio is not None
        and ratio < DIVERSITY_COLLAPSE
        and max(earlier, default=0.0) >= DIVERSITY_COLLAPSE
    ):
        detail = f"fakes' pairwise distance is {ratio:.2f} of real data's"
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
