"""`bench tune --export FILE.toml`: a runnable suite with every tuned variant at its best trial.

The file is a suite named `<suite>.tuned` (the confirmation jobs' suite, so `bench run` on it
skips the jobs `--confirm` already ran). Its `[base]` is the reference variant at its best
parameters when that variant was tuned. If other variants were tuned, the design is
"variants" and each is a `[variants.NAME]` whose `tricks` and `set` reproduce its best config;
otherwise the suite keeps its own design with the tuned base. Before the file is written it
is loaded and expanded like any suite, and every tuned variant's config must come back equal.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna

from bench.atomic import atomic_write_bytes
from bench.config import JobConfig, Suite, apply_overrides, read_toml, validate
from bench.expand import BASELINE, expand
from bench.tune.confirm import TUNED_SUFFIX, best_trials, fresh_seeds
from bench.tune.plan import TunePlan
from bench.tune.study import TuneError

CONFIG_SECTIONS = ("data", "model", "train", "eval")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def export_suite(
    plan: TunePlan,
    studies: dict[str, optuna.Study],
    path: str | Path,
    seeds: int | None = None,
) -> Path:
    """Write the tuned suite to `path`, with `seeds` fresh seeds (default: as many as the suite)."""
    best = best_trials(plan, studies)
    tuned = {t.variant: t.job(best[t.variant].params, t.suite, t.seed).config for t in plan.targets}
    count = seeds or len(plan.suite.suite.seed_list)
    raw = tuned_suite_raw(plan, tuned, fresh_seeds(plan.targets[0].seed, count))
    text = header(plan, best) + dumps(raw)
    check_round_trip(text, tuned, str(path))
    path = Path(path)
    atomic_write_bytes(path, text.encode())
    return path


def tuned_suite_raw(
    plan: TunePlan, tuned: dict[str, JobConfig], seeds: list[int]
) -> dict[str, Any]:
    """The exported suite as a TOML-shaped dict."""
    base = tuned.get(BASELINE, plan.suite.base)
    others = {name: config for name, config in tuned.items() if name != BASELINE}
    meta = plan.suite.suite
    suite = {
        "name": meta.name + TUNED_SUFFIX,
        "description": f"{meta.name}, each tuned variant at its best. {meta.description}".strip(),
        "seeds": seeds,
    }
    if not others:
        raw = apply_overrides(read_toml(plan.suite_path), plan.overrides)
        raw.pop("tune", None)
        return {**raw, "suite": {**raw["suite"], **suite}, "base": base.model_dump(mode="json")}
    return {
        "suite": {**suite, "design": "variants"},
        "base": base.model_dump(mode="json"),
        "variants": {name: variant_table(base, config, name) for name, config in others.items()},
    }


def variant_table(base: JobConfig, config: JobConfig, name: str) -> dict[str, Any]:
    """`tricks` (those not in base) and `set` (dotted differences) that turn base into config."""
    missing = set(base.tricks) - set(config.tricks)
    if missing:
        raise TuneError(f"variant '{name}' drops base tricks {sorted(missing)}: cannot export")
    ours, theirs = config.model_dump(mode="json"), base.model_dump(mode="json")
    changes: dict[str, Any] = {}
    for section in CONFIG_SECTIONS:
        for key, value in ours[section].items():
            if value != theirs[section][key]:
                changes[f"{section}.{key}"] = value
    for trick in base.tricks:
        for key, value in ours["tricks"][trick].items():
            if value != theirs["tricks"][trick].get(key):
                changes[f"tricks.{trick}.{key}"] = value
    if any(value is None for value in changes.values()):
        raise TuneError(f"variant '{name}' unsets a base value; TOML cannot say so: cannot export")
    extra = {t: p for t, p in ours["tricks"].items() if t not in base.tricks}
    return {"tricks": extra, "set": changes}


def header(plan: TunePlan, best: dict[str, optuna.trial.FrozenTrial]) -> str:
    studies = {t.variant: t.study_name for t in plan.targets}
    lines = [
        f"# Written by `bench tune --export` from {plan.suite_path} on "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}.",
        "# Each tuned variant at its best trial (metric "
        f"{plan.tune.metric}, lower is better); seeds are fresh, never used for tuning.",
        *(
            f"#   {variant}: trial {trial.number} of study '{studies[variant]}', "
            f"{plan.tune.metric} {trial.value:.4g}"
            for variant, trial in best.items()
        ),
    ]
    return "\n".join(lines) + "\n\n"


def check_round_trip(text: str, tuned: dict[str, JobConfig], where: str) -> None:
    """Load and expand the text as a suite; each tuned variant must resolve to its config."""
    suite = validate(Suite, tomllib.loads(text), where)
    found = {job.variant: job.config for job in expand(suite, where)}
    for name, config in tuned.items():
        if found.get(name) != config:
            raise TuneError(f"{where}: variant '{name}' would not reproduce its tuned config")


def dumps(tree: dict[str, Any]) -> str:
    """TOML for a tree of tables (every dict a table, dicts in lists inline; None omitted)."""
    return "\n".join(_tables(tree, [])).strip() + "\n"


def _tables(table: dict[str, Any], path: list[str]) -> list[str]:
    values = [(k, v) for k, v in table.items() if v is not None and not isinstance(v, dict)]
    lines = []
    if path and (values or not table):
        lines += ["", "[" + ".".join(map(_key, path)) + "]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in values]
    for key, child in table.items():
        if isinstance(child, dict):
            lines += _tables(child, [*path, key])
    return lines


def _key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    raise TuneError(f"cannot write {value!r} ({type(value).__name__}) as TOML")
