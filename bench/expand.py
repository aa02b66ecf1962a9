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
import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench.components import import_suite_plugins, resolve_components, resolved_config
from bench.config import Expectation, JobConfig, Suite, load_suite, set_dotted, validate
from bench.data import dataset_capabilities, default_image_size
from bench.errors import ConfigError, DataError
from bench.metrics import scored_metrics
from bench.models.build import check_fit
from bench.tricks.registry import all_tricks

BASELINE = "baseline"
ALL_TRICKS = "all"
OFF = "off"
MAX_JOBS = 10_000  # a suite may expand to at most this many jobs unless --max-jobs says more


@dataclass(frozen=True)
class Job:
    """One training run: a fully resolved config and a seed, named by a hash of both.

    `tricks` are the config's trick parameters, typed (each trick's `Params`): resolved and
    checked once, when the suite is expanded (`bench.components.resolve_components`), and
    recorded in `config.tricks` as JSON tables; `from_record` reads them back from `job.json`.
    """

    suite: str
    variant: str
    seed: int
    config: JobConfig
    tricks: dict[str, BaseModel] = field(default_factory=dict, compare=False)
    factors: dict[str, str] = field(default_factory=dict, compare=False)
    modules: tuple[str, ...] = field(default=(), compare=False)  # `[suite] plugins`
    revision: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.tricks.keys() != self.config.tricks.keys():
            raise ValueError(
                f"job {self.suite}/{self.variant}: its typed tricks {sorted(self.tricks)} are "
                f"not its config's {sorted(self.config.tricks)} (resolve_components makes both)"
            )

    @cached_property
    def id(self) -> str:
        canonical = json.dumps(
            {"config": self.config.model_dump(mode="json"), "seed": self.seed},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @classmethod
    def from_record(cls, record: dict[str, Any], where: str) -> Job:
        """The job a `job.json` (or `result.json`) describes: its `[suite] plugins` imported,
        its config validated and its components resolved again, as at expansion."""
        try:
            modules = tuple(map(str, record.get("modules") or ()))
            import_suite_plugins(modules, where)
            config = validate(JobConfig, record["config"], where, prefix="config")
            return cls(
                str(record["suite"]),
                str(record["variant"]),
                int(record["seed"]),
                config,
                resolve_components(config, where).tricks,
                dict(record.get("factors") or {}),
                modules=modules,
                revision=str(record.get("suite_revision") or ""),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{where}: not a job record (bad or missing {err})") from None

    def record(self) -> dict[str, Any]:
        """The job as plain JSON-able data (what `job.json` holds)."""
        return {
            "job_id": self.id,
            "suite": self.suite,
            "variant": self.variant,
            "seed": self.seed,
            "factors": self.factors,
            "config": self.config.model_dump(mode="json"),
            **({"modules": list(self.modules)} if self.modules else {}),
            **({"suite_revision": self.revision} if self.revision else {}),
        }

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as it is, its plugins named first: unpickling imports them as plugins
        (`_unpickled_job`) before it meets their parameter classes."""
        return (_unpickled_job, (self.modules,), self.__dict__)


def _unpickled_job(modules: tuple[str, ...]) -> Job:
    """An empty job for pickle to fill in, once its `[suite] plugins` and the installed
    plugins' tricks are imported: `bench.plugins` attributes what a module registers only
    when it imports the module, so a plugin first imported by the unpickler would read as
    built-in."""
    import_suite_plugins(modules, "a job's [suite] plugins")
    all_tricks()
    return object.__new__(Job)


@dataclass(frozen=True)
class Level:
    """One setting of an ablated trick: its label in variant names and its parameters."""

    trick: str
    label: str
    params: dict[str, Any]


def trick_levels(name: str, table: dict[str, Any], where: str = "suite") -> list[Level]:
    """A `[tricks.NAME]` table -> its levels (`levels = [{...}, ...]` or the table itself)."""
    if "levels" not in table:
        return [Level(name, name, dict(table))]
    levels = table["levels"]
    extra = set(table) - {"levels"}
    if extra:
        raise ConfigError(
            f"{where}: tricks.{name}: put parameters inside `levels`, not beside it: "
            f"{sorted(extra)}"
        )
    if not isinstance(levels, list) or not levels or not all(isinstance(x, dict) for x in levels):
        raise ConfigError(f"{where}: tricks.{name}.levels: expected a non-empty list of tables")
    return [Level(name, _level_label(name, params), dict(params)) for params in levels]


def _level_label(name: str, params: dict[str, Any]) -> str:
    inner = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{name}({inner})" if inner else name


def design_variants(
    suite: Suite, where: str = "suite", max_jobs: int | None = None
) -> list[tuple[str, dict[str, Level], dict[str, Any]]]:
    """(variant name, enabled ablated tricks, base overrides) for the suite's design.

    The number of jobs is checked against `max_jobs` before any variant is built.
    """
    levels = {name: trick_levels(name, table, where) for name, table in suite.tricks.items()}
    design = suite.suite.design
    check_job_count(suite, where, max_jobs)
    if design == "variants":
        if suite.tricks:
            raise ConfigError(
                "[tricks]: design 'variants' takes its tricks from [variants.NAME].tricks"
            )
        if not suite.variants:
            raise ConfigError("[variants]: design 'variants' needs at least one [variants.NAME]")
        if BASELINE in suite.variants:
            raise ConfigError(
                f"{where}: [variants.{BASELINE}]: '{BASELINE}' is the reference variant, built "
                "from [base]; change [base] instead, or give this variant another name"
            )
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


def variant_count(suite: Suite, where: str = "suite") -> int:
    """How many variants the suite's design has (the reference included), counted without
    building any and without the job cap (`check_job_count` applies that)."""
    levels = [len(trick_levels(name, table, where)) for name, table in suite.tricks.items()]
    design = suite.suite.design
    if design == "variants":
        return 1 + len(suite.variants)
    if design == "one_at_a_time":
        return 1 + sum(levels)
    if design == "leave_one_out":
        return 1 + len(levels)
    return math.prod(count + 1 for count in levels)


def check_job_count(suite: Suite, where: str, max_jobs: int | None) -> None:
    """Refuse a suite that expands to more than `max_jobs` (default `MAX_JOBS`) jobs, counted
    without building any."""
    max_jobs = MAX_JOBS if max_jobs is None else max_jobs
    variants = variant_count(suite, where)
    jobs = variants * len(suite.suite.seed_list)
    if jobs > max_jobs:
        raise ConfigError(
            f"{where}: the suite expands to {jobs} jobs ({variants} variants x "
            f"{len(suite.suite.seed_list)} seeds), more than the cap of {max_jobs}; raise the cap "
            "with --max-jobs N if you mean it"
        )


def reference_variant(suite: Suite) -> str:
    """The variant every other is compared with: `all` for leave-one-out, else `baseline`."""
    return ALL_TRICKS if suite.suite.design == "leave_one_out" else BASELINE


def expand(suite: Suite, where: str = "suite", max_jobs: int | None = None) -> list[Job]:
    """All jobs of a suite (variants x seeds), validated; refuses duplicates and bad tricks.

    The suite's `[suite] plugins` are imported first, so their names resolve like built-ins.
    """
    modules = suite.suite.plugins
    import_suite_plugins(modules, where)
    base = suite.base.model_dump(mode="json")
    jobs: list[Job] = []
    seen: dict[str, str] = {}
    for variant, enabled, overrides in design_variants(suite, where, max_jobs):
        raw = copy.deepcopy(base)
        for key, value in overrides.items():
            set_dotted(raw, key.split("."), value, f"{where}: variants.{variant}.set")
        for level in enabled.values():
            if level.trick in raw["tricks"]:
                raise ConfigError(
                    f"{where}: trick '{level.trick}' is both in [base.tricks] and ablated"
                )
            raw["tricks"][level.trick] = level.params
        config = validate(JobConfig, raw, where, prefix=f"variants.{variant}")
        in_variant = f"{where}: variant '{variant}'"
        try:
            components = resolve_components(config, in_variant)
        except DataError as err:
            raise DataError(f"{where}: {err}") from None
        check_model_fit(config, in_variant)
        config = resolved_config(config, components, in_variant)
        factors = {name: OFF for name in suite.tricks}
        factors.update({lv.trick: lv.label for lv in enabled.values()})
        for seed in suite.suite.seed_list:
            job = Job(suite.suite.name, variant, seed, config, components.tricks, factors, modules)
            if job.id in seen:
                raise ConfigError(
                    f"{where}: variants '{seen[job.id]}' and '{variant}' resolve to the same "
                    "config; give them different settings"
                )
            seen[job.id] = variant
            jobs.append(job)
    _check_expectations(suite, {job.variant for job in jobs}, where)
    _check_metrics(suite, jobs, where)
    _check_budget(suite, jobs, where)
    return with_revision(jobs, design=suite.suite.design, reference=reference_variant(suite))


def with_revision(jobs: list[Job], design: str, reference: str) -> list[Job]:
    """The jobs, each stamped with the revision of the suite definition they make up.

    The revision hashes the design, the reference variant and every variant's resolved
    config, not the seeds: adding seeds keeps it, changing any value or variant changes it.
    Reports pool only the jobs of one revision (see `bench.run.store.definition`).
    """
    definition = {
        "design": design,
        "reference": reference,
        "variants": {job.variant: job.config.model_dump(mode="json") for job in jobs},
    }
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    revision = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return [dataclasses.replace(job, revision=revision) for job in jobs]


def check_model_fit(config: JobConfig, where: str) -> None:
    """Refuse an image size the architecture cannot build, or a trick it does not take."""
    size = config.data.image_size or default_image_size(config.data.name)
    check_fit(config.model.arch, size, config.tricks, where)


def expectations(suite: Suite) -> dict[str, tuple[str, Expectation]]:
    """Variant -> (the `[expect.KEY]` it comes from, the claim).

    A key names a variant; a key naming an ablated trick with `levels` applies to each of its
    levels' variants (`instance_noise(sigma=0.1)`, ...), except a level that has an
    `[expect."LEVEL"]` of its own.
    """
    levelled = [key for key in suite.expect if "levels" in suite.tricks.get(key, {})]
    found: dict[str, tuple[str, Expectation]] = {}
    for key in levelled:
        for level in trick_levels(key, suite.tricks[key]):
            found[level.label] = (key, suite.expect[key])
    for key, claim in suite.expect.items():
        if key not in levelled:
            found[key] = (key, claim)  # after the levels: a level's own claim wins
    return found


def _check_expectations(suite: Suite, variants: set[str], where: str) -> None:
    """Every `[expect.KEY]` must apply to variants the design produces, not to the reference."""
    reference = reference_variant(suite)
    for variant, (key, _) in expectations(suite).items():
        if variant == reference:
            raise ConfigError(
                f"{where}: expect.{key}: the reference variant is what others are compared "
                "with; state expectations for the other variants"
            )
        if variant not in variants:
            named = "no such variant" if variant == key else f"no variant '{variant}'"
            raise ConfigError(f"{where}: expect.{key}: {named}; variants: {sorted(variants)}")


def _check_metrics(suite: Suite, jobs: list[Job], where: str) -> None:
    """`[suite] primary_metric`, `expect.*.metric` and `[suite] margin`'s keys must name a
    metric every job scores."""
    scored: set[str] | None = None
    for data, evaluation in {(job.config.data, job.config.eval) for job in jobs}:
        names = set(scored_metrics(data, evaluation, dataset_capabilities(data.name, data.root)))
        scored = names if scored is None else scored & names
    allowed = sorted(scored or ())
    chosen = [("suite.primary_metric", suite.suite.primary_metric)]
    chosen += [(f"expect.{name}.metric", claim.metric) for name, claim in suite.expect.items()]
    chosen += [(f"suite.margin.{metric}", metric) for metric in suite.suite.margin]
    for key, metric in chosen:
        if metric is not None and metric not in allowed:
            raise ConfigError(
                f"{where}: {key} = '{metric}': not a metric this suite scores; "
                f"allowed: {', '.join(allowed)}"
            )


def _check_budget(suite: Suite, jobs: list[Job], where: str) -> None:
    """`[suite] budget` must be a checkpoint of every job (`JobConfig.evaluation_steps`):
    the headline verdict is read where every variant was scored."""
    budget = suite.suite.budget
    for job in jobs if budget is not None else []:
        steps = job.config.evaluation_steps
        if budget not in steps:
            raise ConfigError(
                f"{where}: suite.budget = {budget}: not a checkpoint of variant "
                f"'{job.variant}'; its checkpoints: {', '.join(map(str, steps))} (name one, or "
                "list the step in [base.eval] at)"
            )


def plan_suite(
    path: str | Path, overrides: list[str] | None = None, max_jobs: int | None = None
) -> tuple[Suite, list[Job]]:
    """Load a suite file with its overrides and expand it; raises before anything runs."""
    suite = load_suite(path, overrides)
    return suite, expand(suite, str(path), max_jobs)
