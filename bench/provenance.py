"""Provenance: which code, libraries, device and protocol made a result.

Job ids hash a job's config and seed, not the code, so after a change to a trick every job
of a suite is "already finished". The code fingerprint says what made each result: the
package version, a hash of the package's source files, the versions of the libraries that
compute the numbers (torch, torchvision, torch-fidelity, numpy, Python), the device class and
the machine class (CPU model, instruction-set dispatch, math libraries, GPU model: see
`bench.machine`). Its `code_id` covers everything but the device and machine: results with
different `code_id`s are never pooled (see `bench.run.store.selection`), and `bench run
--rerun-stale` redoes those of other code. Results of one code on two machine classes are
pooled, but never silently: reports flag them (`bench.report.machines`).
`PROVENANCE_KEYS` are the metric protocol's keys: numbers that differ in any are never
compared (`bench.report`, `bench.regress`). Reports and baselines also record the git commit.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from bench.machine import machine

PACKAGE = Path(__file__).resolve().parent  # the `bench` package
LIBRARIES = ("torch", "torchvision", "torch-fidelity", "numpy")
RECORDED_VERSIONS = ("gan-bench", "torch", "torchvision", "torch-fidelity")
UNRECORDED = "unrecorded"  # results written before fingerprints were recorded
PROVENANCE_KEYS = (
    "backbone",
    "backbone_version",
    "reference_split",
    "num_generated",
    "num_reference",
    "dataset_version",
    "kid_subset_size",
    "classifier_version",
    "torch_fidelity_version",
)


def source_hash(package: Path = PACKAGE) -> str:
    """A hash of every file of the package (path and bytes), compiled caches excluded."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def versions() -> dict[str, str]:
    """What a result's `versions` records: gan-bench, torch, torchvision, torch-fidelity, Python."""
    return {name: _version(name) for name in RECORDED_VERSIONS} | {
        "python": platform.python_version()
    }


@cache
def code_fingerprint() -> dict[str, str]:
    """This process's code: package version and source hash, library, CUDA build and Python
    versions."""
    code = {"gan-bench": _version("gan-bench"), "source": source_hash()}
    code |= {name: _version(name) for name in LIBRARIES}
    code["cuda"] = torch.version.cuda or "none"  # the CUDA torch was built for (a build, not a GPU)
    code["python"] = platform.python_version()
    code["code_id"] = _short_hash(code)
    return code


def device_class(device: torch.device) -> str:
    """`cpu (x86_64)` or the GPU model, e.g. `NVIDIA H100 80GB HBM3`."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.machine()})"


def device_name(device: torch.device) -> str:
    """What a result's `device` records: the GPU model, or the CPU's processor name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def fingerprint(device: torch.device) -> dict[str, str]:
    """What a result records: `code_fingerprint()`, the device class it ran on and its machine
    class (`bench.machine.machine`), which are not part of the `code_id`."""
    return {**code_fingerprint(), "device_class": device_class(device), **machine(device)}


def code_id(record: dict[str, Any]) -> str:
    """The code id a result was made by, or `unrecorded` for results older than fingerprints."""
    return (record.get("fingerprint") or {}).get("code_id", UNRECORDED)


def git_commit() -> str | None:
    """`git rev-parse HEAD` of the working directory, or None outside a repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _short_hash(values: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]
