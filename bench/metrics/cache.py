"""Where gan-bench keeps what it computes once and reuses: backbones, weights, reference stats."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from bench.atomic import atomic_write

CACHE_ENV = "GAN_BENCH_CACHE"


def default_cache_dir() -> Path:
    """`$GAN_BENCH_CACHE` if set, else `~/.cache/gan-bench`."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "gan-bench")


def resolve_cache_dir(cache_dir: Path | str | None) -> Path:
    """`cache_dir` as a path, or `default_cache_dir()` when it is None."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def atomic_save(obj: Any, path: Path) -> None:
    """`torch.save` `obj` to `path` atomically (`bench.atomic`): no reader sees half a file."""
    atomic_write(path, lambda out: torch.save(obj, out))
