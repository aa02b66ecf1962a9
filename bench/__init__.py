"""gan-bench: ablate GAN training tricks with seeds, real metrics and honest statistics.

The public API, importable from `bench` (loaded on first use, so `import bench` stays light):
`load_suite`, `plan_suite` (suite -> validated jobs), `run_suite`, `load_results` (one row per
job as a pandas DataFrame), `build_report`, `tune_suite`.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_suite": "bench.config",
    "plan_suite": "bench.expand",
    "run_suite": "bench.sequential.runner",
    "load_results": "bench.report",
    "build_report": "bench.report",
    "tune_suite": "bench.tune",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bench' has no attribute '{name}'")
    return getattr(import_module(_EXPORTS[name]), name)
