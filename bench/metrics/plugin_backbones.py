"""Feature extractors that plugins register as `eval.backbone` choices.

A plugin registers a factory `make(dataset, cache_dir) -> Backbone` under a name; the factory
registers its torch-fidelity feature extractor (`torch_fidelity.register_feature_extractor`)
and returns the `Backbone` naming it, with a `version` that changes whenever its numbers would
(weights digest, recipe): results record it, and numbers of different versions are never
compared. `auto` never picks a plugin's backbone; a suite names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import ConfigError
from bench.plugins import Origin, clash, current_origin, load_entry_points

if TYPE_CHECKING:
    from bench.data.base import Dataset
    from bench.metrics.backbones import Backbone

BUILTIN_BACKBONES = ("auto", "domain", "inception-v3-compat")
BackboneFactory = Callable[["Dataset", Path], "Backbone"]


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    make: BackboneFactory
    origin: Origin


REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Decorator: make `make(dataset, cache_dir) -> Backbone` available as `eval.backbone`."""

    def decorate(make: BackboneFactory) -> BackboneFactory:
        origin = current_origin()
        if name in BUILTIN_BACKBONES:
            raise clash("backbone", name, Origin("bench"), origin)
        if name in REGISTRY:
            raise clash("backbone", name, REGISTRY[name].origin, origin)
        REGISTRY[name] = BackboneSpec(name, make, origin)
        return make

    return decorate


def backbone_spec(name: str, where: str = "eval.backbone") -> BackboneSpec | None:
    """The plugin backbone `name`; None for a built-in one; refuses an unknown name."""
    if name in BUILTIN_BACKBONES:
        return None
    load_entry_points("backbones")
    if name not in REGISTRY:
        known = ", ".join([*BUILTIN_BACKBONES, *sorted(REGISTRY)])
        raise ConfigError(f"{where}: key 'eval.backbone' = '{name}': unknown; known: {known}")
    return REGISTRY[name]
