"""Training statistics and failure detectors, accumulated on the device.

Each iteration adds its losses, D's mean output on real and fake batches, and both gradient
norms to running sums on the training device (no host synchronisation). `flush` reads them
back once per log interval, writes one history row, and runs the detectors on it.

Divergence (training stops, the job is recorded as `diverged` with the step and reason):
- a non-finite (NaN/inf) loss;
- a collapsed discriminator loss: D separates real from fake perfectly, its loss averaged
  over a whole log interval is below `D_LOSS_COLLAPSE`, and G's gradient signal is gone
  (Arjovsky & Bottou 2017, "Towards Principled Methods for Training GANs").
Warnings (recorded as events, training goes on):
- a gradient norm above `GRAD_NORM_LIMIT` (ganhacks #13: "if grad norms > 100, things are
  screwing up").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

FIELDS = ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm")
D_LOSS_COLLAPSE = 1e-3
GRAD_NORM_LIMIT = 100.0


@dataclass(frozen=True)
class Event:
    """A detector firing: which one, at which step, and the evidence."""

    step: int
    detector: str
    detail: str


class Monitor:
    """Running sums of `FIELDS` on the device; one host read per log interval."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._reset()

    def _reset(self) -> None:
        self.sums = torch.zeros(len(FIELDS), device=self.device)
        self.squares = torch.zeros(len(FIELDS), device=self.device)
        self.maxima = torch.full((len(FIELDS),), -math.inf, device=self.device)
        self.count = 0
        self.first_step: int | None = None

    def record(self, step: int, values: Tensor) -> None:
        """Add one iteration's `FIELDS` (a 1-D tensor on the device)."""
        values = values.detach().float()
        self.sums += values
        self.squares += values * values
        self.maxima = torch.maximum(self.maxima, values)
        self.count += 1
        if self.first_step is None:
            self.first_step = step

    def flush(self, step: int) -> tuple[dict[str, float], list[Event], Event | None]:
        """Read the interval back: its history row, warning events and a divergence, if any."""
        n = max(self.count, 1)
        means = (self.sums / n).tolist()
        variances = (self.squares / n - (self.sums / n) ** 2).clamp_min(0).tolist()
        maxima = self.maxima.tolist()
        row: dict[str, float] = {"step": step}
        for name, mean, var, peak in zip(FIELDS, means, variances, maxima, strict=True):
            row[name] = mean
            if name == "d_loss":
                row["d_loss_var"] = var
            if name.endswith("grad_norm"):
                row[f"{name}_max"] = peak
        first = self.first_step if self.first_step is not None else step
        self._reset()
        return row, self._warnings(row, step), self._divergence(row, first, step)

    @staticmethod
    def _warnings(row: dict[str, float], step: int) -> list[Event]:
        return [
            Event(step, "gradient_explosion", f"{name} reached {row[f'{name}_max']:.1f} > 100")
            for name in ("d_grad_norm", "g_grad_norm")
            if row[f"{name}_max"] > GRAD_NORM_LIMIT
        ]

    @staticmethod
    def _divergence(row: dict[str, float], first: int, step: int) -> Event | None:
        if not all(math.isfinite(row[name]) for name in ("d_loss", "g_loss")):
            return Event(step, "non_finite", f"NaN/inf loss between steps {first} and {step}")
        if row["d_loss"] < D_LOSS_COLLAPSE:
            return Event(
                step,
                "d_loss_collapse",
                f"discriminator loss collapsed to {row['d_loss']:.2e} over steps {first}-{step}",
            )
        return None
