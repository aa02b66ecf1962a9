"""Developer sessions: `nox -s tests`, `nox -s lint`. CI runs `.ci/run` (the README command)."""

import nox

TORCH = ("torch==2.14.1", "torchvision==0.29.1")


@nox.session
def tests(session: nox.Session) -> None:
    session.install(*TORCH, "-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "bench", "tests", "benchmarks")
    session.run("ruff", "format", "--check", "bench", "tests", "benchmarks")
