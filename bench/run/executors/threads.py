"""Threads per worker: how many CPU threads each job's torch may use (`bench run --threads`).

On a loaded machine fewer threads can be much faster per step (two workers of two threads on
two cores fight over them), so the number is chosen, not guessed: `--threads N` if given, else
`OMP_NUM_THREADS` from the environment if set, else the default of each executor: a pool of
CPU workers shares the cores (`cpu_count // workers`), packed GPU workers split them per GPU,
a run in this process keeps torch's own setting (torch reads `OMP_NUM_THREADS` when it
starts), and Ray tasks take one each. The number is
shown in the run's summary and recorded in each job's `job.json` and `result.json`
(`threads`, as `torch.get_num_threads()` reads it inside the job). It is not part of the job's
id: the same config and seed is the same job, whatever thread count ran it; on CPU a kernel's
reductions may split differently with another count, so `bench rerun` reuses the recorded one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bench.errors import ConfigError

OMP = "OMP_NUM_THREADS"


def check_threads(threads: int | None) -> int | None:
    """`--threads N` as given; a `ConfigError` unless N is a positive number."""
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads {threads}: expected a positive number of threads per worker")
    return threads


def environment_threads(environ: Mapping[str, str] | None = None) -> int | None:
    """`OMP_NUM_THREADS` when set (a `ConfigError` naming it unless a positive whole number)."""
    value = (os.environ if environ is None else environ).get(OMP, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(
            f"{OMP}={value!r}: expected a positive whole number of threads per worker "
            "(or unset it, or pass --threads N)"
        )
    return int(value)


def worker_threads(requested: int | None, default: int) -> int:
    """Threads per worker: `requested` (`--threads`), else `OMP_NUM_THREADS`, else `default`."""
    chosen = check_threads(requested) or environment_threads()
    return chosen or max(1, default)


def shared_cores(workers: int) -> int:
    """The default for `workers` processes sharing this machine's cores: `cpu_count // workers`."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))
