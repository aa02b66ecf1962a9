"""`bench validate`: run every suite of `suites/known_effects/`, the instrument's check.

Each of those suites asks a question whose answer is established (a dead configuration
hurts, a placebo does nothing, PacGAN covers more modes of the ring, ...) and states it in
`[expect.VARIANT]`; the report puts what was observed beside it (docs/known_effects.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from bench.config import load_suite
from bench.errors import ConfigError
from bench.run.suite import RunSummary, run_suite

KNOWN_EFFECTS = Path("suites") / "known_effects"


def known_effect_suites(folder: str | Path = KNOWN_EFFECTS) -> list[Path]:
    """The suite files in `folder`, sorted by name."""
    paths = sorted(Path(folder).glob("*.toml"))
    if not paths:
        raise ConfigError(f"{folder}: no suite files (*.toml) to validate with")
    return paths


def validate(
    folder: str | Path = KNOWN_EFFECTS,
    overrides: list[str] | None = None,
    results: str | Path = "results",
    device: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    run: Callable[..., RunSummary] = run_suite,
    threads: int | None = None,
) -> Iterator[tuple[Path, str, RunSummary]]:
    """Run each known-effects suite in turn (resuming finished jobs) with `run` (`bench
    validate` passes `bench.sequential.runner.run_until_decided`, which also runs suites with
    sequential seeds); `threads`: torch threads per worker (`bench.run.executors.threads`).

    Every suite is loaded (with `overrides`) and expanded before the first job starts, so a
    bad file stops the whole set at once. Yields (file, suite name, run summary).
    """
    paths = known_effect_suites(folder)
    names = [load_suite(path, overrides).suite.name for path in paths]
    for path, name in zip(paths, names, strict=True):
        summary = run(
            path,
            overrides,
            results=results,
            device=device,
            workers=workers,
            progress=progress,
            threads=threads,
        )
        yield path, name, summary
