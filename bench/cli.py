"""The `bench` command: parse arguments, call the library, print. No logic lives here.

Every `BenchError` is printed as one line on stderr and becomes the exit code (2 for bad
input); nothing is started when the input is bad.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.errors import BenchError, ConfigError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable:
    def decorate(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return decorate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="Ablate GAN training tricks with seeds, metrics and statistics."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="expand a suite into seeded jobs and run them")
    run.add_argument("suite", help="suite file (TOML), e.g. suites/label_tricks.toml")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.steps=200 (repeatable)",
    )
    run.add_argument("--dry-run", action="store_true", help="print the job table, run nothing")
    run.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    run.add_argument("--results", default="results", help="results folder (default: results/)")
    run.add_argument("--jobs", type=int, default=1, help="jobs run in parallel (processes)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    report = sub.add_parser("report", help="write an HTML report (or a table) of results")
    report.add_argument("--results", default="results")
    report.add_argument("--suite", dest="suites", action="append", help="suite(s) to include")
    report.add_argument("--out", help="output file (default: reports/<suite>.html)")
    report.add_argument("--format", choices=["html", "md", "csv"], default="html")

    export = sub.add_parser("export", help="print one row per job as CSV or JSON")
    export.add_argument("--results", default="results")
    export.add_argument("--suite", dest="suites", action="append")
    export.add_argument("--format", choices=["csv", "json"], default="csv")

    tricks = sub.add_parser("tricks", help="list the registered tricks, or show one in full")
    tricks.add_argument("name", nargs="?")
    tricks.add_argument("--markdown", action="store_true", help="the README's trick table")
    return parser


@command("run")
def _run(args: argparse.Namespace) -> int:
    from bench.expand import plan_suite
    from bench.run.table import job_table

    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: expected a positive number of parallel jobs")
    if args.dry_run:
        suite, jobs = plan_suite(args.suite, args.overrides)
        print(job_table(jobs, args.results))
        print(f"{len(jobs)} jobs in suite '{suite.suite.name}' (dry run: nothing was started)")
        return 0
    from bench.run.local import run_suite

    summary = run_suite(
        args.suite,
        args.overrides,
        results=args.results,
        device=args.device,
        workers=args.jobs,
        progress=not args.quiet,
    )
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.statuses.items()))
    print(
        f"{summary.total} jobs: {summary.skipped} already finished"
        + (f", {counts}" if counts else "")
        + f"; results in {args.results}/"
    )
    for path in summary.failed:
        print(f"failed: see {path}", file=sys.stderr)
    return 1 if summary.failed else 0


@command("report")
def _report(args: argparse.Namespace) -> int:
    from bench.report import build_report, headline_text

    if args.format == "html":
        path = build_report(args.results, args.suites, args.out)
        print(f"report written to {path}")
    else:
        text = headline_text(args.results, args.suites, args.format)
        if args.out:
            Path(args.out).write_text(text)
        else:
            print(text, end="")
    return 0


@command("export")
def _export(args: argparse.Namespace) -> int:
    from bench.report import export_table

    print(export_table(args.results, args.suites, args.format), end="")
    return 0


@command("tricks")
def _tricks(args: argparse.Namespace) -> int:
    from bench.tricks.catalog import describe_trick, markdown_table, trick_table

    if args.markdown:
        print(markdown_table())
    else:
        print(describe_trick(args.name) if args.name else trick_table())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
