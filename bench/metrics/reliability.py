"""Whether a scoring backbone is good enough to trust the metrics computed on its features.

A classifier's test accuracy means little on its own: 0.567 is near useless for two classes
(guessing gets 0.5) and good for a hundred. The rule judges skill above chance instead, for
k classes: skill = (accuracy - 1/k) / (1 - 1/k), 0 for a uniform guess and 1 for a perfect
classifier (Cohen's kappa against a guesser that picks each class equally often). A backbone
with skill below `MIN_SKILL` is unreliable: its features barely tell the classes apart, so
distances on them (FID, KID, precision/recall, ...) can move with anything in the images.
docs/metrics.md ("When a backbone is unreliable") says why the threshold is 0.5.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

MIN_SKILL = 0.5


@dataclass(frozen=True)
class Reliability:
    """A backbone's held-out accuracy over `classes` classes, judged against chance."""

    accuracy: float
    classes: int

    @property
    def chance(self) -> float:
        return 1.0 / self.classes

    @property
    def skill(self) -> float:
        """Accuracy above chance, as a fraction of the way from chance to perfect; 0 when
        there is one class (every guess is right, so accuracy says nothing)."""
        if self.classes < 2:
            return 0.0
        return (self.accuracy - self.chance) / (1.0 - self.chance)

    @property
    def reliable(self) -> bool:
        return self.skill >= MIN_SKILL

    def describe(self) -> str:
        """`test accuracy 0.567, chance 0.500 with 2 classes: skill 0.13 < 0.5`."""
        relation = ">=" if self.reliable else "<"
        return (
            f"test accuracy {self.accuracy:.3f}, chance {self.chance:.3f} with {self.classes} "
            f"classes: skill {self.skill:.2f} {relation} {MIN_SKILL}"
        )


def judge(accuracy: object, classes: object) -> Reliability | None:
    """The `Reliability` of a recorded accuracy and class count, or None where either is
    missing or not a plausible value (results are untrusted input: nothing is judged then)."""
    if not _finite(accuracy) or not _finite(classes):
        return None
    if not 0.0 <= accuracy <= 1.0 or classes < 1 or classes != int(classes):
        return None
    return Reliability(float(accuracy), int(classes))


def _finite(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
