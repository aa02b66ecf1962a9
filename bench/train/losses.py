"""GAN objectives on D's logits, by name, and the G loss forms of the BCE objective.

Every loss here is elementwise (one value per logit); callers average. D's loss on a real
batch and on a fake batch are separate functions so that tricks can score extra batches
(reconstructions, replayed fakes) with the job's own objective.

- `bce` (default): Goodfellow et al. (2014), binary cross-entropy computed from logits
  (softplus), with targets from the label tricks. G minimises either the original minimax
  objective log(1 - D(G(z))), whose gradient vanishes when D is confident, or the
  non-saturating -log D(G(z)) the paper recommends (`train.g_loss`).
- `explicit_sigmoid_bce`: the same losses written as sigmoid followed by log(D + eps), as
  many early implementations did; numerically worse than `bce` when D saturates.
- `hinge`: Lim & Ye (2017), Miyato et al. (2018): D minimises relu(1 - l_real) +
  relu(1 + l_fake); G minimises -l_fake. Ignores targets.
- `least_squares`: Mao et al. (2017), LSGAN with 0-1 coding: D minimises
  (l_real - t_real)^2 / 2 + (l_fake - t_fake)^2 / 2; G minimises (l_fake - 1)^2 / 2.
- `wasserstein`: Arjovsky et al. (2017): the critic minimises l_fake - l_real; G minimises
  -l_fake. Ignores targets; needs a Lipschitz constraint (gradient penalty) to be meaningful.

`train.g_loss` (non-saturating vs minimax) selects between the two G losses of the BCE
objectives; the other objectives each define a single G loss and ignore it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.errors import ConfigError

GLossForm = Literal["non_saturating", "minimax"]
TargetLoss = Callable[[Tensor, Tensor], Tensor]
EPS = 1e-8  # the "+ eps" of log(D + eps) in explicit-sigmoid implementations
DEFAULT_OBJECTIVE = "bce"


@dataclass(frozen=True)
class Objective:
    """A named GAN objective: D's elementwise losses on real and fake logits, G's loss forms.

    `floor(real_targets, fake_targets)`: the smallest D loss reachable with these targets
    when D separates real from fake perfectly (the monitor's collapse detector, see
    `collapse_floor`); None where the loss has no floor (Wasserstein).
    """

    name: str
    real: TargetLoss
    fake: TargetLoss
    generator: dict[GLossForm, Callable[[Tensor], Tensor]]
    uses_targets: bool
    floor: Callable[[Tensor, Tensor], float] | None


@dataclass(frozen=True)
class ConfiguredObjective:
    """An objective with the job's G loss form: what the loop and the tricks' terms call."""

    objective: Objective
    g_loss: GLossForm

    @property
    def name(self) -> str:
        return self.objective.name

    def discriminator_real(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.objective.real(logits, target)

    def discriminator_fake(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.objective.fake(logits, target)

    def discriminator(
        self, real_logits: Tensor, fake_logits: Tensor, real_target: Tensor, fake_target: Tensor
    ) -> Tensor:
        """D's loss: the mean loss on the real batch plus the mean loss on the fake batch."""
        real = self.discriminator_real(real_logits, real_target).mean()
        return real + self.discriminator_fake(fake_logits, fake_target).mean()

    def generator(self, logits: Tensor) -> Tensor:
        return self.objective.generator[self.g_loss](logits)


def _bce(logits: Tensor, target: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


def _explicit_bce(logits: Tensor, target: Tensor) -> Tensor:
    d = torch.sigmoid(logits)
    return -(target * torch.log(d + EPS) + (1 - target) * torch.log(1 - d + EPS))


def _least_squares(logits: Tensor, target: Tensor) -> Tensor:
    return 0.5 * (logits - target) ** 2


def _negated(logits: Tensor) -> Tensor:
    return -logits


def _entropy_floor(real_targets: Tensor, fake_targets: Tensor) -> float:
    """BCE is linear in its target, so with targets that D cannot predict (drawn independently
    of the sample) the best D sets sigma(logit) to the mean target t of each side and reaches
    the binary entropy H(t): 0 for hard 0/1 targets, 0.325 for a real target of 0.9."""
    sides = (real_targets, fake_targets)
    return sum(_binary_entropy(t.double().mean().clamp(0.0, 1.0)) for t in sides)


def _binary_entropy(t: Tensor) -> float:
    return -(torch.xlogy(t, t) + torch.xlogy(1 - t, 1 - t)).item()


def _variance_floor(real_targets: Tensor, fake_targets: Tensor) -> float:
    """Least squares: the best logit is the mean target; what is left is half the variance."""
    return sum(0.5 * t.double().var(correction=0).item() for t in (real_targets, fake_targets))


def _zero_floor(real_targets: Tensor, fake_targets: Tensor) -> float:
    """Hinge: every real logit above 1 and every fake one below -1 costs nothing."""
    return 0.0


OBJECTIVES: dict[str, Objective] = {
    objective.name: objective
    for objective in (
        Objective(
            "bce",
            real=_bce,
            fake=_bce,
            generator={
                "non_saturating": lambda logits: F.softplus(-logits),
                "minimax": lambda logits: -F.softplus(logits),
            },
            uses_targets=True,
            floor=_entropy_floor,
        ),
        Objective(
            "explicit_sigmoid_bce",
            real=_explicit_bce,
            fake=_explicit_bce,
            generator={
                "non_saturating": lambda logits: -torch.log(torch.sigmoid(logits) + EPS),
                "minimax": lambda logits: torch.log(1 - torch.sigmoid(logits) + EPS),
            },
            uses_targets=True,
            floor=_entropy_floor,
        ),
        Objective(
            "hinge",
            real=lambda logits, target: F.relu(1.0 - logits),
            fake=lambda logits, target: F.relu(1.0 + logits),
            generator={"non_saturating": _negated, "minimax": _negated},
            uses_targets=False,
            floor=_zero_floor,
        ),
        Objective(
            "least_squares",
            real=_least_squares,
            fake=_least_squares,
            generator={
                "non_saturating": lambda logits: _least_squares(logits, torch.ones_like(logits)),
                "minimax": lambda logits: _least_squares(logits, torch.ones_like(logits)),
            },
            uses_targets=True,
            floor=_variance_floor,
        ),
        Objective(
            "wasserstein",
            real=lambda logits, target: -logits,
            fake=lambda logits, target: logits,
            generator={"non_saturating": _negated, "minimax": _negated},
            uses_targets=False,
            floor=None,
        ),
    )
}


def configured_objective(name: str | None, g_loss: GLossForm) -> ConfiguredObjective:
    """The objective `name` (None: the default BCE) with the configured G loss form."""
    name = name or DEFAULT_OBJECTIVE
    if name not in OBJECTIVES:
        raise ConfigError(f"unknown objective '{name}'; known: {', '.join(OBJECTIVES)}")
    return ConfiguredObjective(OBJECTIVES[name], g_loss)
