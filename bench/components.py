"""A job's components (dataset, model, tricks, backbone) resolved from their registries.

Resolving refuses, before anything runs, what cannot work together: an unknown name, a trick
whose needs the dataset does not meet or that conflicts with another, a model that does not
train on this data, and a trick that rewrites nets the model does not let it rewrite; it types
each trick's parameters, once (`bench.tricks.registry.resolve_tricks`). `plugins_used` says
which plugins a job's components come from, with their package versions (the provenance every
job records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bench.config import JobConfig, validate
from bench.data import dataset_capabilities, default_image_size
from bench.data.base import DatasetSpec, dataset_spec
from bench.errors import ConfigError, DataError
from bench.metrics.plugin_backbones import backbone_spec
from bench.models.registry import ModelSpec, check_model, model_spec
from bench.plugins import Origin, import_plugin
from bench.tricks.registry import (
    builtin_tricks,
    resolve_tricks,
    trick_classes,
    trick_origin,
    trick_tables,
)


@dataclass(frozen=True)
class Components:
    """What a job trains with: its dataset and model as registered, its tricks as their typed
    parameters by name (`bench.tricks.registry.resolve_tricks`)."""

    dataset: DatasetSpec
    model: ModelSpec
    tricks: dict[str, BaseModel]


def import_suite_plugins(modules: tuple[str, ...], where: str) -> list[Origin]:
    """Import the modules a suite names in `[suite] plugins` (the only code a suite can run).

    The built-in tricks are registered first, so a plugin reusing one of their names is the
    one the error names.
    """
    if modules:
        builtin_tricks()
    return [import_plugin(module, f"{where}: [suite] plugins") for module in modules]


def resolve_components(config: JobConfig, where: str) -> Components:
    """Look up and cross-check a job's components; raises before anything runs."""
    try:
        dataset = dataset_spec(config.data.name)
    except DataError as err:
        raise ConfigError(f"{where}: key 'data.name' = '{config.data.name}': {err}") from None
    capabilities = dataset_capabilities(config.data.name, config.data.root)
    tricks = resolve_tricks(config.tricks, where, capabilities)
    model = model_spec(config.model.arch, where)
    image_size = config.data.image_size or default_image_size(config.data.name)
    check_model(model, trick_classes(tricks), capabilities, image_size, where)
    backbone_spec(config.eval.backbone, where)  # refuses an unknown backbone
    return Components(dataset, model, tricks)


def resolved_config(config: JobConfig, components: Components, where: str) -> JobConfig:
    """`config` as a job records and hashes it: every trick's parameters and the dataset's
    and model's `params` validated, with their defaults filled in.

    A plugin that registers a `params` model has the table validated against it (an unknown
    key or a bad value is one error naming `data.params.KEY` or `model.params.KEY`); one that
    registers none gets the table as written; a built-in takes no `params`.
    """
    data = config.data.model_copy(
        update={"params": _params(components.dataset, config.data.params, where, "data")}
    )
    model = config.model.model_copy(
        update={"params": _params(components.model, config.model.params, where, "model")}
    )
    tricks = trick_tables(components.tricks)
    return config.model_copy(update={"data": data, "model": model, "tricks": tricks})


def _params(
    spec: DatasetSpec | ModelSpec, raw: dict[str, Any], where: str, table: str
) -> dict[str, Any]:
    if spec.params is not None:
        return validate(spec.params, raw, where, prefix=f"{table}.params").model_dump(mode="json")
    if raw and spec.origin.builtin:
        raise ConfigError(
            f"{where}: key '{table}.params' = {raw!r}: {spec.describe()} takes no params; "
            f"its settings are the keys of [base.{table}]"
        )
    return dict(raw)


def plugins_used(config: JobConfig, modules: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The plugins a resolved job's components come from, one entry per module: package,
    version and what it provides (looked up by name; nothing is checked again).

    `modules` are the suite's `[suite] plugins`: imported for the job, so recorded even when
    none of its registrations is used.
    """
    provided: dict[Origin, list[str]] = {}
    for module in modules:
        provided.setdefault(import_plugin(module, "[suite] plugins"), [])
    model = model_spec(config.model.arch)
    uses: list[tuple[Origin, str]] = [
        (dataset_spec(config.data.name).origin, f"dataset:{config.data.name}"),
        (model.origin, f"model:{model.name}"),
        *((trick_origin(name), f"trick:{name}") for name in config.tricks),
    ]
    backbone = backbone_spec(config.eval.backbone)
    if backbone is not None:
        uses.append((backbone.origin, f"backbone:{backbone.name}"))
    for origin, what in uses:
        if not origin.builtin:
            provided.setdefault(origin, []).append(what)
    return [
        {**origin.record(), "provides": sorted(what)}
        for origin, what in sorted(provided.items(), key=lambda item: item[0].module)
    ]
