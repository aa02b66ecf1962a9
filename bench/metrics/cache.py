"""Where gan-bench keeps what it computes once and reuses: backbones, weights, reference stats."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from bench.filemode import plain_file_mode

CACHE_ENV = "GAN_BENCH_CACHE"


def default_cache_dir() -> Path:
    """`$GAN_BENCH_CACHE` if set, else `~/.cache/gan-bench`."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "gan-bench")


def atomic_save(obj: Any, path: Path) -> None:
    """`torch.save` to a temporary file beside `path`, then rename: no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = plain_file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
