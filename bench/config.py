"""Typed suite and job schema, TOML loading, `--set` overrides and validation.

A suite file has four tables::

    [suite]            name, description, design, seeds; how the report decides: primary_metric,
                       correction ("holm" or "bh"), interval ("percentile" or "bca"),
                       margin = {fid = 1.0} (equivalence margins, metric units),
                       budget = STEPS (the checkpoint of the headline verdict; default: the end),
                       exploratory = "why it may not reach a verdict"
    [base]             the baseline job: [base.data] [base.model] [base.train] [base.eval]
                       and [base.tricks.NAME] for tricks every variant uses; a plugin
                       dataset or model takes its own settings in `params = {...}`
    [tricks.NAME]      the tricks to ablate, with their parameters (or `levels = [{...}, ...]`)
    [variants.NAME]    for design = "variants": `tricks = {...}` and `set = {"train.lr_d" = 1e-4}`
    [expect.VARIANT]   optional: the effect the literature claims, `direction` and `source`

and, for `bench tune`, an optional `[tune]` table with its search space in `[tune.params]`.

Every error names the file, the dotted key, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import json
import tomllib
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bench.errors import ConfigError
from bench.metric_registry import comparable_metrics, eval_requests, tunable_metrics

# Datasets, architectures and backbones are registries that plugins extend (`bench.plugins`):
# these are names, checked against the registries when a suite is expanded.
DatasetName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
ArchName = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")]
ModuleName = Annotated[str, Field(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")]
Design = Literal["grid", "one_at_a_time", "leave_one_out", "variants"]
# Every file system allows names of 255 bytes; gan-bench derives longer ones from a suite's
# name (`<suite>.trials`, `reports/<suite>.html`, `bench merge`'s `<suite>-<job-id>.old`),
# so a suite name (ASCII) and a variant name (UTF-8) have at most 100 bytes.
MAX_NAME_BYTES = 100
SuiteName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=MAX_NAME_BYTES)]


def printable_name(name: str) -> str:
    """A variant's name: 1 to `MAX_NAME_BYTES` bytes of UTF-8, and no character of Unicode
    category C (controls such as NUL, format characters such as the U+202E bidirectional
    override, surrogates, private-use and unassigned code points): reports show it as it is."""
    hidden = next((c for c in name if unicodedata.category(c).startswith("C")), None)
    if hidden is not None:
        raise ValueError(
            f"character U+{ord(hidden):04X} (category {unicodedata.category(hidden)}) is not "
            "allowed; a variant name may hold no control, format, surrogate, private-use or "
            "unassigned character"
        )
    size = len(name.encode("utf-8"))
    if not 0 < size <= MAX_NAME_BYTES:
        raise ValueError(f"a variant name has 1 to {MAX_NAME_BYTES} bytes of UTF-8, not {size}")
    return name


VariantName = Annotated[str, AfterValidator(printable_name)]
MetricName = Literal[tuple(eval_requests())]  # what `eval.metrics` may name (the registry)
ComparedMetric = Literal[tuple(comparable_metrics())]  # a metric with a direction
Margin = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Backbone = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]


class Section(BaseModel):
    """A table of a suite file: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def plugin_params() -> Any:
    """The `params` table of `[base.data]` and `[base.model]`: a plugin dataset's or model's
    own settings, validated against the `params` model it registers (see
    `bench.components.resolved_config`). Left out of the record when empty, so the job ids
    of configs without params are what they were before `params` existed."""
    return Field(
        default_factory=dict,
        exclude_if=lambda params: not params,
        description="a plugin dataset's or model's own settings",
    )


class WithParams(Section):
    """A table with a `params` dict: hashed by its canonical JSON (a dict is unhashable)."""

    def __hash__(self) -> int:
        return hash(json.dumps(self.model_dump(mode="json"), sort_keys=True))


class DataConfig(WithParams):
    name: DatasetName = "digits"
    root: str | None = Field(None, description="folder holding the dataset files")
    image_size: int | None = Field(None, ge=8, le=128, description="resize to this (px)")
    download: bool = Field(False, description="let torchvision download when online")
    toy_samples: int = Field(10_000, ge=100, description="points drawn for 2-D mixtures")
    train_fraction: float = Field(
        1.0, gt=0.0, le=1.0, description="train on this fraction of the training split"
    )
    params: dict[str, Any] = plugin_params()


class ModelConfig(WithParams):
    arch: ArchName = Field("dcgan", description="dcgan, mlp, a plugin's model or 'module:builder'")
    latent_dim: int = Field(64, ge=1, le=1024)
    g_width: int = Field(64, ge=4, le=2048, description="channels of G's widest conv (ngf)")
    d_width: int = Field(64, ge=4, le=2048, description="channels of D's first conv (ndf)")
    mlp_hidden: int = Field(128, ge=4, le=4096)
    mlp_layers: int = Field(3, ge=1, le=16)
    params: dict[str, Any] = plugin_params()


class TrainConfig(Section):
    steps: int = Field(500, ge=1, description="generator iterations")
    batch_size: int = Field(64, ge=2, le=16_384)
    lr_g: float = Field(2e-4, gt=0, le=1)
    lr_d: float = Field(2e-4, gt=0, le=1)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    d_steps: int = Field(1, ge=1, le=100, description="D updates per iteration")
    g_steps: int = Field(1, ge=1, le=100, description="G updates per iteration")
    g_loss: Literal["non_saturating", "minimax"] = "non_saturating"
    log_every: int = Field(25, ge=1, description="steps between logged (device-read) points")


class EvalConfig(Section):
    metrics: tuple[MetricName, ...] = Field(("fid", "isc", "kid"), min_length=1)
    num_samples: int = Field(2000, ge=50, le=200_000, description="generated samples scored")
    reference_samples: int | None = Field(None, ge=50, description="None: the whole split")
    reference_split: Literal["train", "test"] = "test"
    backbone: Backbone = "auto"
    weights_path: str | None = Field(None, description="local Inception weights (offline)")
    seed: int = Field(0, ge=0, description="seed of the evaluation latents")
    every: int | None = Field(
        None,
        ge=1,
        description="steps between evaluations during training (a multiple of "
        "train.log_every); replaces the default checkpoints",
    )
    at: tuple[int, ...] | None = Field(
        None,
        description="the steps at which G is also scored during training (the end always "
        "is); None: 1/8, 1/4, 1/2 and 3/4 of train.steps (or every eval.every steps); []: "
        "only the end",
    )
    interpolation_strip: bool = Field(
        False, description="also save interpolation.png: G along slerp paths between latents"
    )

    @field_validator("at", mode="before")
    @classmethod
    def _a_list_of_steps(cls, at: Any) -> Any:
        steps = isinstance(at, (list, tuple)) and all(
            isinstance(step, int) and not isinstance(step, bool) for step in at
        )
        if at is not None and not steps:
            raise ValueError("expected a list of training steps, e.g. [50, 100, 200] ([]: none)")
        return at


CHECKPOINT_FRACTIONS = (1 / 8, 1 / 4, 1 / 2, 3 / 4)  # of train.steps; the end always counts


class JobConfig(Section):
    """Everything that determines one training run, apart from its seed."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    tricks: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _evaluations_fall_on_log_points(self) -> JobConfig:
        every, log_every = self.eval.every, self.train.log_every
        if every is not None and every % log_every:
            raise ValueError(
                f"eval.every ({every}) must be a multiple of train.log_every ({log_every})"
            )
        return self

    @model_validator(mode="after")
    def _checkpoints_within_training(self) -> JobConfig:
        at, steps = self.eval.at, self.train.steps
        if at is None:
            return self
        if self.eval.every is not None:
            raise ValueError("set eval.at or eval.every, not both (each names the checkpoints)")
        wrong = [step for step in at if not 1 <= step <= steps]
        if wrong or len(set(at)) != len(at):
            problem = f"{wrong[0]} is not" if wrong else "a step is listed twice; each must be"
            raise ValueError(
                f"eval.at = {list(at)}: {problem} a distinct whole step from 1 to "
                f"train.steps ({steps})"
            )
        return self

    @property
    def evaluation_steps(self) -> tuple[int, ...]:
        """The steps at which G is scored, in order, always ending with `train.steps`.

        `eval.at` when set; else every `eval.every` steps; else the default checkpoints,
        `CHECKPOINT_FRACTIONS` of `train.steps` rounded half up to whole steps (at least 1).
        """
        steps, cfg = self.train.steps, self.eval
        if cfg.at is not None:
            points = set(cfg.at)
        elif cfg.every is not None:
            points = set(range(cfg.every, steps, cfg.every))
        else:
            points = {max(1, int(steps * f + 0.5)) for f in CHECKPOINT_FRACTIONS}
        return tuple(sorted(points | {steps}))


STAGE_KEYS = ("start", "step", "max")
MAX_STAGED_SEEDS = 1000


class SeedStages(Section):
    """`seeds = { start = 8, step = 4, max = 32 }`: sequential seeds, in stages fixed in advance.

    The first stage runs `start` seeds, each later one `step` more, the last `max` (a shorter
    last step when `step` does not divide `max - start`). The seeds are `first` (the listed
    seeds `bench run --until-decided` keeps), then 0, 1, 2, ... not already in it. After each
    stage the decided comparisons stop (docs/statistics.md, "Sequential seeds").
    """

    start: int
    step: int
    max: int
    first: tuple[int, ...] = ()

    @property
    def counts(self) -> tuple[int, ...]:
        """Seeds run by the end of each stage."""
        return (*range(self.start, self.max, self.step), self.max)

    @property
    def values(self) -> tuple[int, ...]:
        """All `max` seeds, in the order the stages take them."""
        taken = set(self.first)
        more = (seed for seed in range(self.max + len(taken)) if seed not in taken)
        return (*self.first, *more)[: self.max]


def seed_stages(value: dict[str, Any]) -> SeedStages:
    """A `seeds = {...}` table as `SeedStages`; a ValueError naming the key otherwise."""
    unknown = sorted(set(value) - {*STAGE_KEYS, "first"})
    if unknown:
        raise ValueError(
            f"unknown key 'seeds.{unknown[0]}'; a table of seeds takes {', '.join(STAGE_KEYS)} "
            "(and first = [seeds of the first stages])"
        )
    for key in STAGE_KEYS:
        number = value.get(key)
        if number is None:
            raise ValueError(f"missing key 'seeds.{key}' (seeds = {{ start, step, max }})")
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"seeds.{key} = {number!r}: expected a whole number")
    start, step, most = value["start"], value["step"], value["max"]
    if start < 2:
        raise ValueError(f"seeds.start = {start}: expected at least 2 (seeds in the first stage)")
    if step < 1:
        raise ValueError(f"seeds.step = {step}: expected at least 1 (seeds added per stage)")
    if not start <= most <= MAX_STAGED_SEEDS:
        raise ValueError(
            f"seeds.max = {most}: expected from seeds.start ({start}) to {MAX_STAGED_SEEDS}"
        )
    first = value.get("first", ())
    if len(set(first)) != len(first) or len(first) > most:
        raise ValueError(f"seeds.first = {first!r}: expected at most {most} distinct seeds")
    return SeedStages(**value)


class SuiteMeta(Section):
    name: SuiteName
    description: str = ""
    design: Design = "one_at_a_time"
    seeds: tuple[int, ...] | SeedStages = Field(
        (0, 1, 2), description="a list, or stages: { start, step, max } (sequential seeds)"
    )
    plugins: tuple[ModuleName, ...] = Field((), description="modules imported before expanding")
    primary_metric: str | None = Field(
        None, description="the metric of the headline verdict (default: FID where scored)"
    )
    correction: Literal["holm", "bh"] = Field(
        "holm", description="multiple comparisons: Holm-Bonferroni or Benjamini-Hochberg"
    )
    interval: Literal["percentile", "bca"] = Field(
        "percentile", description="the bootstrap CI of each effect: percentile or BCa"
    )
    margin: dict[ComparedMetric, Margin] = Field(
        default_factory=dict,
        description="per metric, the smallest effect that matters (metric units): within it, "
        "a variant is 'equivalent'; unset metrics take the registry's default",
    )
    exploratory: str | None = Field(
        None,
        min_length=1,
        description="why it may run although it cannot reach a verdict (docs/statistics.md)",
    )
    spending: Literal["obf", "pocock"] = Field(
        "obf", description="sequential seeds: alpha spending over the stages (Lan-DeMets)"
    )
    budget: int | None = Field(
        None,
        ge=1,
        description="the training step of the headline verdict, declared before running: one "
        "of every job's checkpoints (eval.at); None: the end of training",
    )

    @field_validator("name")
    @classmethod
    def _a_folder_name(cls, name: str) -> str:
        """The name is a folder of the results: '.', '..' and hidden names would not be one."""
        if name.startswith("."):
            raise ValueError("a suite name may not start with '.' (it names a results folder)")
        return name

    @field_validator("margin", mode="before")
    @classmethod
    def _a_table(cls, margin: Any) -> Any:
        if not isinstance(margin, dict):
            raise ValueError(
                "expected a table of margins per metric, in the metric's units, e.g. "
                "{ fid = 1.0, kid = 0.001 }"
            )
        return margin

    @field_validator("seeds", mode="before")
    @classmethod
    def _list_or_stages(cls, seeds: Any) -> Any:
        """A table is sequential seeds, checked key by key; a list, distinct seeds."""
        if isinstance(seeds, SeedStages):
            return seeds
        if isinstance(seeds, dict):
            return seed_stages(seeds)
        if not isinstance(seeds, (list, tuple)) or not seeds:
            raise ValueError("expected a non-empty list of seeds, or { start, step, max }")
        repeated = sorted({seed for seed in seeds if list(seeds).count(seed) > 1})
        if repeated:
            raise ValueError(f"seed {repeated[0]} is listed twice; each seed must be distinct")
        return seeds

    @property
    def seed_list(self) -> tuple[int, ...]:
        """Every seed the suite may run (sequential: all `max`, in stage order)."""
        return self.seeds.values if isinstance(self.seeds, SeedStages) else self.seeds

    @property
    def stages(self) -> SeedStages | None:
        """The sequential stages, or None for a fixed list of seeds."""
        return self.seeds if isinstance(self.seeds, SeedStages) else None


class VariantSpec(Section):
    tricks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    set: dict[str, Any] = Field(default_factory=dict, description="dotted overrides of [base]")


class Expectation(Section):
    """`[expect.VARIANT]`: what the literature says this variant does against the reference.

    The report shows it beside what was observed, so a suite can check the instrument against
    established results (`suites/known_effects/`).
    """

    direction: Literal["helps", "hurts", "no effect"]
    source: str = Field(min_length=1, description="who claims it: paper, section or figure")
    metric: str | None = Field(None, description="the metric the claim is about; None: primary")


ParamValue = bool | int | float | str


class TuneParam(Section):
    """One searched value: a float or int range (`low`..`high`, `log`, `step`) or `choices`.

    `type` may be left out when `choices` is given (then it is "categorical"). Whether the
    key can be searched, and whether its bounds are valid values, is checked by `bench.tune`.
    """

    type: Literal["float", "int", "categorical"] | None = None
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = Field(None, gt=0)
    choices: tuple[ParamValue, ...] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> TuneParam:
        kind = self.type or ("categorical" if self.choices is not None else None)
        if kind is None:
            raise ValueError("give type = 'float' or 'int' with low and high, or choices = [...]")
        if kind == "categorical":
            if self.choices is None or self.low is not None or self.high is not None:
                raise ValueError("type 'categorical' takes choices = [...] (no low/high)")
            return self
        if self.choices is not None or self.low is None or self.high is None:
            raise ValueError(f"type '{kind}' takes low and high (no choices)")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log = true needs low > 0 (low is {self.low})")
        if self.log and self.step is not None:
            raise ValueError("log = true and step cannot be combined")
        integral = [v for v in (self.low, self.high, self.step) if v is not None]
        if kind == "int" and not all(isinstance(v, int) for v in integral):
            raise ValueError("type 'int' needs integer low, high and step")
        return self

    @property
    def kind(self) -> Literal["float", "int", "categorical"]:
        return self.type or "categorical"


TUNE_PARAM_KEYS = frozenset(TuneParam.model_fields)


class TuneConfig(Section):
    """`[tune]`: the search space and how `bench tune` searches it (see `bench.tune`)."""

    n_trials: int = Field(20, ge=0, description="finished trials per variant (total, all workers)")
    metric: Literal[tuple(tunable_metrics())] = Field(
        "fid", description="minimised, at the end of training"
    )
    sampler: Literal["tpe", "random", "cmaes", "gp"] = "tpe"
    seed: int = Field(0, ge=0, description="seed of the sampler")
    sampler_startup_trials: int = Field(10, ge=0, description="random trials before modelling")
    pruner: Literal["median", "hyperband", "none"] = "median"
    pruner_startup_trials: int = Field(5, ge=0, description="median: trials before pruning")
    pruner_warmup_steps: int = Field(0, ge=0, description="median: steps before pruning")
    heartbeat_s: int = Field(30, ge=1, description="a running trial's heartbeat interval")
    grace_s: int | None = Field(None, ge=1, description="silent this long: dead (2x heartbeat)")
    max_retry: int = Field(2, ge=0, description="retries of a trial whose worker died")
    params: dict[str, TuneParam] = Field(default_factory=dict)

    @field_validator("params", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        """`"train.lr_d" = {...}` or nested tables (`[tune.params.train.lr_d]`, `--set`), merged."""
        if not isinstance(value, dict):
            return value
        flat: dict[str, Any] = {}

        def walk(prefix: str, node: dict[str, Any]) -> None:
            for key, child in node.items():
                name = f"{prefix}.{key}" if prefix else key
                if isinstance(child, dict) and child and not set(child) & TUNE_PARAM_KEYS:
                    walk(name, child)
                elif isinstance(child, dict) and isinstance(flat.get(name), dict):
                    flat[name] = {**flat[name], **child}
                else:
                    flat[name] = child

        walk("", value)
        return flat


class Suite(Section):
    suite: SuiteMeta
    base: JobConfig = JobConfig()
    tricks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    variants: dict[VariantName, VariantSpec] = Field(default_factory=dict)
    tune: TuneConfig | None = None
    expect: dict[str, Expectation] = Field(default_factory=dict)


SUITE_SECTIONS = ("suite", "base", "tricks", "variants", "tune", "expect")
ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_value(text: str) -> Any:
    """Read an override's value as TOML (`200`, `1e-4`, `true`, `[0, 1]`), else as a string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def override_path(key: str) -> list[str]:
    """Where `--set KEY=...` lands: `train.steps` is `base.train.steps`, `seeds` `suite.seeds`."""
    parts = key.split(".")
    if parts[0] in SUITE_SECTIONS:
        return parts
    if parts[0] in SuiteMeta.model_fields:
        return ["suite", *parts]
    return ["base", *parts]


def set_dotted(tree: dict[str, Any], path: list[str], value: Any, where: str) -> None:
    """Set `tree[a][b][c] = value` for path a.b.c, creating tables on the way.

    `where` (the suite file, the option or the variant being set) begins an error message.
    """
    node = tree
    for depth, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            key = ".".join(path[: depth + 1])
            raise ConfigError(f"{where}: key '{key}' is a value, not a table")
        node = child
    node[path[-1]] = value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `KEY=VALUE` strings to a raw suite dict (a deep copy is returned)."""
    tree = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set '{item}': expected KEY=VALUE, e.g. train.steps=200")
        set_dotted(tree, override_path(key.strip()), parse_value(text.strip()), "--set")
    return tree


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such suite file")
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); "
            "TOML files are UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def load_suite(path: str | Path, overrides: list[str] | None = None) -> Suite:
    """Read, override and validate a suite file (trick names are checked by `bench.expand`)."""
    path = Path(path)
    raw = apply_overrides(read_toml(path), overrides or [])
    return validate(Suite, raw, str(path))


def validate(model: type[ModelT], raw: dict[str, Any], where: str, prefix: str = "") -> ModelT:
    """Validate `raw` as `model`; the first problem becomes one `ConfigError` line.

    `where` (the suite file, or the record or option being checked) begins the message.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(describe_error(model, err, where, prefix)) from None


def describe_error(model: type[BaseModel], err: ValidationError, where: str, prefix: str) -> str:
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join([prefix, *loc] if prefix else loc)
    more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
    if loc and loc[-1] == "[key]":  # a table's key (a name), not its value, is wrong
        named = ascii(key.removesuffix(".[key]"))[1:-1]  # control characters shown escaped
        return f"{where}: key '{named}': {first['msg'].removeprefix('Value error, ')}{more}"
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(allowed_keys(model, loc[:-1]))) or "none"
        return f"{where}: unknown key '{key}'; allowed here: {allowed}"
    if first["type"] == "missing":
        return f"{where}: missing key '{key}'"
    if first["type"] == "value_error" and isinstance(first.get("input"), dict):
        # a table's own check (its message names the keys): the whole table is no help
        return f"{where}: key '{key}': {first['msg'].removeprefix('Value error, ')}{more}"
    return f"{where}: key '{key}' = {shown(first.get('input'))}: {first['msg']}{more}"


def shown(value: Any, limit: int = 80) -> str:
    """`value` as an error message shows it: escaped to ASCII (a control or bidirectional
    character cannot garble the terminal), long values cut with their length."""
    text = ascii(value)
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
    return f"{text[: limit - 20]}... ({size})"


def allowed_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    """The field names of the (nested) model found at `loc`, for 'allowed here' messages."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _model_in(annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
