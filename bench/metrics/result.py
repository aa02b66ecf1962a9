"""The record every evaluation returns: metric values and how they were obtained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricsResult:
    """Metric values by name, and the protocol behind them (backbone, sample counts, seed...).

    Numbers whose `provenance["backbone"]` or `["backbone_version"]` differ are not comparable.
    """

    values: dict[str, float]
    provenance: dict[str, Any]
