"""Run snapshots and baseline files: what a nightly run measured, and what it is compared with.

A snapshot is the latest finished job of every (variant, seed) of one suite in a results
folder: per seed its status, final FID and training throughput, per variant its resolved
config, and once for the run its provenance (device, package versions, metric protocol, git
commit). A baseline file is a snapshot written to JSON with the tolerances of the checks::

    {
      "format": "gan-bench-baseline/1",
      "suite": "nightly",
      "tolerances": {"fid_increase": 0.1, "throughput_drop": 0.1, "new_failures": 1,
                     "confidence": 0.95},
      "provenance": {"device": "NVIDIA H100 80GB HBM3", "commit": "3f2a...",
                     "recorded_at": "2025-01-31T02:14:00+00:00",
                     "versions": {"torch": "2.14.1", ...},
                     "metric": {"backbone": "domain", "backbone_version": "...",
                                "dataset_version": "...", "reference_split": "test",
                                "num_generated": 10000, "num_reference": 2000}},
      "variants": {"baseline": {"config": {...},
                                "seeds": {"0": {"job_id": "...", "status": "ok",
                                                "fid": 12.3, "steps_per_s": 151.2}, ...}},
                   ...}
    }

Tolerances live in the baseline file (not the suite), so they are versioned with the numbers
they apply to; `--update-baseline` keeps those of the file it replaces. A baseline is only
compared with a run of the same suite, device class (the recorded device name, e.g. the GPU
model) and metric protocol (backbone and its version, dataset version, reference split,
sample counts), and with the same resolved config per variant; anything else is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bench.atomic import atomic_write_json
from bench.config import Section, validate
from bench.errors import ResultsError
from bench.provenance import PROVENANCE_KEYS, git_commit
from bench.run.store.results import ResultsStore
from bench.run.store.selection import select_jobs

FORMAT = "gan-bench-baseline/1"
# Where a dataset lives on this machine does not change what is measured (its version does).
MACHINE_KEYS = (("data", "root"), ("data", "download"))


class BaselineError(ResultsError):
    """A baseline file is missing, malformed, or measured under a different protocol."""


class Tolerances(Section):
    """How much worse the run may look before a check counts as a regression."""

    fid_increase: float = Field(
        0.10, ge=0, description="relative rise of the median FID tolerated (0.10: +10%)"
    )
    throughput_drop: float = Field(
        0.10, gt=0, lt=1, description="relative drop of the median steps/s tolerated"
    )
    new_failures: int = Field(
        1, ge=0, description="seeds that may end not ok (diverged, missing) beyond the baseline's"
    )
    confidence: float = Field(0.95, gt=0.5, lt=1, description="level of the bootstrap CIs")


class SeedResult(Section):
    job_id: str
    status: str
    fid: float | None = None
    steps_per_s: float | None = None


class VariantRun(Section):
    config: dict[str, Any]
    seeds: dict[int, SeedResult]


class Provenance(Section):
    device: str
    commit: str | None = None
    recorded_at: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    metric: dict[str, Any] = Field(default_factory=dict)


class RunSnapshot(Section):
    suite: str
    provenance: Provenance
    variants: dict[str, VariantRun]


class Baseline(RunSnapshot):
    format: Literal["gan-bench-baseline/1"] = FORMAT
    tolerances: Tolerances = Tolerances()


def snapshot(results_dir: str | Path, suite: str | None = None) -> RunSnapshot:
    """The latest finished job of each (variant, seed) of `suite` in `results_dir`, of the
    suite's current definition and one code fingerprint (`bench.run.store.selection`).

    `suite` may be left out when the folder holds exactly one suite.
    """
    store = ResultsStore(results_dir)
    suite = suite or only_suite(store)
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    known = store.suites()
    if suite not in known:
        raise ResultsError(
            f"{store.root}: no suite '{suite}'; suites with results: {', '.join(known) or 'none'}"
        )
    for record in select_jobs(store, suite).pooled:
        key = (record["variant"], int(record["seed"]))
        finished = record.get("finished_at") or ""
        if key not in latest or finished >= (latest[key].get("finished_at") or ""):
            latest[key] = record
    if not latest:
        raise ResultsError(f"{results_dir}: suite '{suite}' has no finished jobs yet")
    records = [latest[key] for key in sorted(latest)]
    variants: dict[str, VariantRun] = {}
    for record in records:
        seeds = variants.setdefault(
            record["variant"],
            VariantRun(config=comparable_config(record.get("config") or {}), seeds={}),
        ).seeds
        seeds[int(record["seed"])] = SeedResult(
            job_id=record["job_id"],
            status=record["status"],
            fid=(record.get("metrics") or {}).get("fid"),
            steps_per_s=record.get("steps_per_s"),
        )
    return RunSnapshot(suite=suite, provenance=run_provenance(records, suite), variants=variants)


def only_suite(store: ResultsStore) -> str:
    known = store.suites()
    if len(known) != 1:
        found = ", ".join(known) or "none"
        raise ResultsError(f"{store.root}: name the suite with --suite (suites found: {found})")
    return known[0]


def comparable_config(config: dict[str, Any]) -> dict[str, Any]:
    """A job's config without the machine-specific keys (`data.root`, `data.download`)."""
    kept = {section: dict(values) for section, values in config.items()}
    for section, key in MACHINE_KEYS:
        kept.get(section, {}).pop(key, None)
    return kept


def run_provenance(records: list[dict[str, Any]], suite: str) -> Provenance:
    """The device, versions and metric protocol shared by every job of the run."""
    devices = sorted({r.get("device") or "unrecorded" for r in records})
    if len(devices) > 1:
        raise ResultsError(
            f"suite '{suite}': jobs ran on several devices ({', '.join(devices)}); a nightly "
            "run must run on one device class: rerun it into an empty --results folder"
        )
    scored = [r["metric_provenance"] for r in records if r.get("metric_provenance")]
    metric = {key: scored[0].get(key) for key in PROVENANCE_KEYS} if scored else {}
    for key, value in metric.items():
        others = sorted({str(p.get(key)) for p in scored} - {str(value)})
        if others:
            raise ResultsError(
                f"suite '{suite}': metric provenance '{key}' differs between jobs "
                f"({value} and {', '.join(others)}); rerun the suite into an empty --results folder"
            )
    return Provenance(
        device=devices[0],
        commit=git_commit(),
        recorded_at=max(r.get("finished_at") or "" for r in records),
        versions=records[-1].get("versions", {}),
        metric=metric,
    )


def load_baseline(path: str | Path) -> Baseline:
    """Read and validate a baseline file; a missing or malformed one is a `BaselineError`."""
    path = Path(path)
    if not path.is_file():
        raise BaselineError(
            f"{path}: no such baseline file; record one from a finished run with "
            f"`bench regress --update-baseline --baseline {path}`"
        )
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BaselineError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise BaselineError(f"{path}: not a gan-bench baseline (format {found!r}, need {FORMAT!r})")
    return validate(Baseline, raw, str(path))


def write_baseline(path: str | Path, run: RunSnapshot) -> Baseline:
    """Write `run` as the baseline at `path`, keeping the tolerances of the file it replaces."""
    path = Path(path)
    tolerances = load_baseline(path).tolerances if path.is_file() else Tolerances()
    baseline = Baseline(**dict(run), tolerances=tolerances)
    atomic_write_json(path, baseline.model_dump(mode="json"))
    return baseline


def check_comparable(baseline: Baseline, run: RunSnapshot, path: str | Path) -> None:
    """Refuse a baseline of another suite, device class, metric protocol or config."""
    fix = "record a baseline for it with `bench regress --update-baseline --baseline OTHER.json`"
    if baseline.suite != run.suite:
        raise BaselineError(
            f"{path}: baseline of suite '{baseline.suite}', results of suite '{run.suite}'; "
            "pass --suite, or another --baseline"
        )
    was, now = baseline.provenance, run.provenance
    if was.device != now.device:
        raise BaselineError(
            f"{path}: baseline recorded on '{was.device}', this run on '{now.device}': FID "
            f"noise and steps/s are not comparable across device classes; {fix}"
        )
    for key in PROVENANCE_KEYS:
        if was.metric.get(key) != now.metric.get(key):
            raise BaselineError(
                f"{path}: metric provenance '{key}' is {was.metric.get(key)!r} in the baseline "
                f"but {now.metric.get(key)!r} in this run; numbers from different backbones or "
                f"protocols are never compared: {fix}"
            )
    missing = sorted(set(baseline.variants) - set(run.variants))
    if missing:
        raise BaselineError(
            f"{path}: baseline variants {missing} have no finished jobs in this run of suite "
            f"'{run.suite}' (variants run: {sorted(run.variants)})"
        )
    for name, tracked in baseline.variants.items():
        changed = config_differences(tracked.config, run.variants[name].config)
        if changed:
            raise BaselineError(
                f"{path}: variant '{name}' is configured differently from its baseline "
                f"({'; '.join(changed[:3])}); if the suite changed on purpose, record a new "
                "baseline with --update-baseline"
            )


def config_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """`key: old -> new` for every dotted key whose value differs."""
    old, new = flatten(before), flatten(after)
    return [
        f"{key}: {old.get(key, '(unset)')!r} -> {new.get(key, '(unset)')!r}"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat |= flatten(value, f"{dotted}.")
        else:
            flat[dotted] = value
    return flat
