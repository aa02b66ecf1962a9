"""The search space of `[tune.params]`: which keys can be searched, checked per variant.

A key is a dotted path into a job's config, as in `--set`: `train.lr_g`, `train.beta1`,
`train.d_steps` and `train.g_steps` (the D/G step ratio), `model.latent_dim`, or a trick
parameter such as `tricks.instance_noise.sigma`, which is searched only in the variants that
enable the trick. The step budget (`train.steps`), the log cadence and the evaluation protocol
(`data.*`, `eval.*`) stay fixed, so every trial and every variant is scored the same way on
the same budget (Lucic et al. 2018, "Are GANs Created Equal? A Large-Scale Study", sec. 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from pydantic import BaseModel

from bench.config import (
    JobConfig,
    ModelConfig,
    ParamValue,
    TrainConfig,
    TuneConfig,
    TuneParam,
    set_dotted,
    validate,
)
from bench.errors import ConfigError
from bench.expand import check_model_fit
from bench.tricks.registry import all_tricks, resolve_tricks, trick_tables

SECTIONS = {"train": TrainConfig, "model": ModelConfig}
FIXED = frozenset({"train.steps", "train.log_every"})


@dataclass(frozen=True)
class Dimension:
    """One searched key and its range or choices."""

    key: str
    param: TuneParam

    def distribution(self) -> BaseDistribution:
        p = self.param
        if p.kind == "categorical":
            return CategoricalDistribution(list(p.choices or ()))
        if p.kind == "int":
            return IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
        return FloatDistribution(float(p.low), float(p.high), log=p.log, step=p.step)

    def suggest(self, trial: optuna.Trial) -> ParamValue:
        p = self.param
        if p.kind == "categorical":
            return trial.suggest_categorical(self.key, list(p.choices or ()))
        if p.kind == "int":
            step = int(p.step or 1)
            return trial.suggest_int(self.key, int(p.low), int(p.high), step=step, log=p.log)
        return trial.suggest_float(self.key, float(p.low), float(p.high), step=p.step, log=p.log)

    def probes(self) -> list[tuple[str, ParamValue]]:
        """The values that must all be valid settings: the bounds, or every choice."""
        p = self.param
        if p.kind == "categorical":
            return [(f"choices[{i}]", c) for i, c in enumerate(p.choices or ())]
        return [("low", p.low), ("high", p.high)]


def searchable_keys() -> list[str]:
    """Every `train.*` and `model.*` key that may be searched (trick parameters besides)."""
    keys = [f"{s}.{f}" for s, model in SECTIONS.items() for f in model.model_fields]
    return [k for k in keys if k not in FIXED]


def field_annotation(key: str, where: str) -> Any:
    """The type of the config field a search key sets; a `ConfigError` if it is not one."""
    at_key = f"{where}: key 'tune.params.{key}'"
    parts = key.split(".")
    if parts[0] == "tricks":
        known = all_tricks()
        if len(parts) != 3:
            raise ConfigError(f"{at_key}: a trick parameter is tricks.<trick>.<parameter>")
        if parts[1] not in known:
            raise ConfigError(f"{at_key}: unknown trick '{parts[1]}'; known: {', '.join(known)}")
        fields = known[parts[1]].Params.model_fields
        if parts[2] not in fields:
            allowed = ", ".join(fields) or "none"
            raise ConfigError(
                f"{at_key}: trick '{parts[1]}' has no parameter '{parts[2]}'; its parameters: "
                f"{allowed}"
            )
        return fields[parts[2]].annotation
    if key in searchable_keys():
        return SECTIONS[parts[0]].model_fields[parts[1]].annotation
    raise ConfigError(
        f"{at_key}: cannot be searched; searchable: {', '.join(searchable_keys())}, "
        "tricks.<trick>.<parameter>"
    )


def check_space(tune: TuneConfig, where: str) -> None:
    """Refuse an empty space, unknown keys, and float ranges for integer settings."""
    if not tune.params:
        raise ConfigError(
            f"{where}: [tune.params] is empty; declare what to search, e.g. "
            '"train.lr_d" = { type = "float", low = 1e-5, high = 1e-3, log = true }'
        )
    for key, param in tune.params.items():
        if field_annotation(key, where) is int and param.kind == "float":
            raise ConfigError(
                f"{where}: key 'tune.params.{key}.type' = 'float': {key} is an integer; "
                "use type = 'int' or choices"
            )


def variant_space(tune: TuneConfig, config: JobConfig) -> list[Dimension]:
    """The dimensions that apply to a variant: all but the parameters of tricks it lacks."""
    return [
        Dimension(key, param)
        for key, param in tune.params.items()
        if not key.startswith("tricks.") or key.split(".")[1] in config.tricks
    ]


def apply_params(
    config: JobConfig,
    params: dict[str, ParamValue],
    where: str,
    capabilities: frozenset[str],
) -> tuple[JobConfig, dict[str, BaseModel]]:
    """`config` with each searched key set, and its tricks' typed parameters; validated,
    tricks included, like any job."""
    raw = config.model_dump(mode="json")
    for key, value in params.items():
        set_dotted(raw, key.split("."), value, where)
    tuned = validate(JobConfig, raw, where)
    tricks = resolve_tricks(tuned.tricks, where, capabilities)
    check_model_fit(tuned, where)
    return tuned.model_copy(update={"tricks": trick_tables(tricks)}), tricks


def check_bounds(
    space: list[Dimension],
    config: JobConfig,
    where: str,
    variant: str,
    capabilities: frozenset[str],
) -> None:
    """Every bound and choice must be a valid setting of the variant's config."""
    for dim in space:
        for label, value in dim.probes():
            key = f"tune.params.{dim.key}.{label}"
            at_value = f"{where}: key '{key}' = {value!r} (variant '{variant}')"
            apply_params(config, {dim.key: value}, at_value, capabilities)
