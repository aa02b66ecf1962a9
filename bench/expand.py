"""Suite -> jobs: an experimental design over the ablated tricks, crossed with the seeds.

Designs (each trick in `[tricks]` has one or more levels; a level is a parameter table):

- `one_at_a_time`: the baseline, plus each trick level switched on alone.
- `leave_one_out`: every trick on (`all`), plus `all` with each trick switched off in turn;
  the reference variant is `all`.
- `grid`: the full factorial: every combination of (off, level 1, level 2, ...) per trick.
- `variants`: the baseline plus each `[variants.NAME]`, which may switch tricks on and
  override any base value with `set = {"train.lr_d" = 1e-4}`.

Every job is validated (config, trick parameters, needs, conflicts) before any job runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from bench.config import JobConfig, Suite, load_suite, set_dotted, validate
from bench.data import dataset_capabilities, default_image_size
from bench.errors import ConfigError
from bench.models.build import check_fit
from bench.tricks.registry import build_tricks

BASELINE = "baseline"
ALL_TRICKS = "all"
OFF = "off"


@dataclass(frozen=True)
class Job:
    """One training run: a fully resolved config and a seed, named by a hash of both."""

    suite: str
    variant: str
    seed: int
    config: JobConfig
    factors: dict[str, str] = field(default_factory=dict, compare=False)

    @cached_property
    def id(self) -> str:
        canonical = json.dumps(
            {"config": self.config.model_dump(mode="json"), "seed": self.seed},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def record(self) -> dict[str, Any]:
        """The job as plain JSON-able data (what `job.json` holds)."""
        return {
            "job_id": self.id,
            "suite": self.suite,
            "variant": self.variant,
            "seed": self.seed,
            "factors": self.factors,
            "config": self.config.model_dump(mode="json"),
        }


@dataclass(frozen=True)
class Level:
    """One setting of an ablated trick: its label in variant names and its parameters."""

    trick: str
    label: str
    params: dict[str, Any]


def trick_levels(name: str, table: dict[str, Any]) -> list[Level]:
    """A `[tricks.NAME]` table -> its levels (`levels = [{...}, ...]` or the table itself)."""
    if "levels" not in table:
        return [Level(name, name, dict(table))]
    levels = table["levels"]
    extra = set(table) - {"levels"}
    if extra:
        raise ConfigError(
            f"tricks.{name}: put parameters inside `levels`, not beside it: {sorted(extra)}"
        )
    if not isinstance(levels, list) or not levels or not all(isinstance(x, dict) for x in levels):
        raise ConfigError(f"tricks.{name}.levels: expected a non-empty list of tables")
    return [Level(name, _level_label(name, params), dict(params)) for params in levels]


def _level_label(name: str, params: dict[str, Any]) -> str:
    inner = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{name}({inner})" if inner else name


def design_variants(suite: Suite) -> list[tuple[str, dict[str, Level], dict[str, Any]]]:
    """(variant name, enabled ablated tricks, base overrides) for the suite's design."""
    levels = {name: trick_levels(name, table) for name, table in suite.tricks.items()}
    design = suite.suite.design
    if design == "variants":
        if suite.tricks:
            raise ConfigError(
                "[tricks]: design 'variants' takes its tricks from [variants.NAME].tricks"
            )
        if not suite.variants:
            raise ConfigError("[variants]: design 'variants' needs at least one [variants.NAME]")
        named = [
            (name, {t: Level(t, t, dict(p)) for t, p in spec.tricks.items()}, dict(spec.set))
            for name, spec in suite.variants.items()
        ]
        return [(BASELINE, {}, {}), *named]
    if suite.variants:
        raise ConfigError(f"[variants]: only design 'variants' uses them (design is '{design}')")
    if not levels:
        raise ConfigError(f"[tricks]: design '{design}' needs at least one trick to ablate")
    if design == "one_at_a_time":
        alone = [(lv.label, {lv.trick: lv}, {}) for options in levels.values() for lv in options]
        return [(BASELINE, {}, {}), *alone]
    if design == "leave_one_out":
        first = {name: options[0] for name, options in levels.items()}
        without = [
            (f"without_{name}", {t: lv for t, lv in first.items() if t != name}, {})
            for name in first
        ]
        return [(ALL_TRICKS, first, {}), *without]
    grid = []
    for combo in itertools.product(*[[None, *options] for options in levels.values()]):
        enabled = {lv.trick: lv for lv in combo if lv is not None}
        name = "+".join(lv.label for lv in enabled.values()) or BASELINE
        grid.append((name, enabled, {}))
    return grid


def reference_variant(suite: Suite) -> str:
    """The variant every other is compared with: `all` for leave-one-out, else `baseline`."""
    return ALL_TRICKS if suite.suite.design == "leave_one_out" else BASELINE


def expand(suite: Suite, source: str = "suite") -> list[Job]:
    """All jobs of a suite (variants x seeds), validated; refuses duplicates and bad tricks."""
    base = suite.base.model_dump(mode="json")
    jobs: list[Job] = []
    seen: dict[str, str] = {}
    for variant, enabled, overrides in design_variants(suite):
        raw = copy.deepcopy(base)
        for key, value in overrides.items():
            set_dotted(raw, key.split("."), value, f"{source}: variants.{variant}.set")
        for level in enabled.values():
            if level.trick in raw["tricks"]:
                raise ConfigError(
                    f"{source}: trick '{level.trick}' is both in [base.tricks] and ablated"
                )
            raw["tricks"][level.trick] = level.params
        config = validate(JobConfig, raw, source, prefix=f"variants.{variant}")
        capabilities = dataset_capabilities(config.data.name, config.data.root)
        build_tricks(config.tricks, f"{source}: variant '{variant}'", capabilities)
        check_model_fit(config, f"{source}: variant '{variant}'")
        factors = {name: OFF for name in suite.tricks}
        factors.update({lv.trick: lv.label for lv in enabled.values()})
        for seed in suite.suite.seeds:
            job = Job(suite.suite.name, variant, seed, config, factors)
            if job.id in seen:
                raise ConfigError(
                    f"{source}: variants '{seen[job.id]}' and '{variant}' resolve to the same "
                    "config; give them different settings"
                )
            seen[job.id] = variant
            jobs.append(job)
    _check_expectations(suite, {job.variant for job in jobs}, source)
    return jobs


def check_model_fit(config: JobConfig, source: str) -> None:
    """Refuse an image size the architecture cannot build, or a trick it does not take."""
    size = config.data.image_size or default_image_size(config.data.name)
    check_fit(config.model.arch, size, config.tricks, source)


def _check_expectations(suite: Suite, variants: set[str], source: str) -> None:
    """Every `[expect.NAME]` must name a variant the design produces, and not the reference."""
    reference = reference_variant(suite)
    for name in suite.expect:
        if name == reference:
            raise ConfigError(
                f"{source}: expect.{name}: the reference variant is what others are compared "
                "with; state expectations for the other variants"
            )
        if name not in variants:
            raise ConfigError(
                f"{source}: expect.{name}: no such variant; variants: {sorted(variants)}"
            )


def plan_suite(path: str | Path, overrides: list[str] | None = None) -> tuple[Suite, list[Job]]:
    """Load a suite file with its overrides and expand it; raises before anything runs."""
    suite = load_suite(path, overrides)
    return suite, expand(suite, str(path))
