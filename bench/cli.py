"""The `bench` command: parse arguments, call the library, print. No logic lives here.

Every `BenchError` is printed as one line on stderr and becomes the exit code (2 for bad
input); nothing is started when the input is bad. A closed output pipe ends a command quietly
with exit code 141, as for other Unix tools.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError, ConfigError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable:
    def decorate(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return decorate


def options(*parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A parent parser: options that several commands share (`parents=` of each command)."""
    return argparse.ArgumentParser(add_help=False, parents=list(parents))


def results_option() -> argparse.ArgumentParser:
    parent = options()
    parent.add_argument("--results", default="results", help="results folder (default: results/)")
    return parent


def suites_option() -> argparse.ArgumentParser:
    parent = options()
    parent.add_argument("--suite", dest="suites", action="append", help="suite(s) to include")
    return parent


def set_option(example: str) -> argparse.ArgumentParser:
    parent = options()
    parent.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. --set {example} (repeatable)",
    )
    return parent


def device_option() -> argparse.ArgumentParser:
    parent = options()
    parent.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    return parent


def job_options(set_example: str) -> argparse.ArgumentParser:
    """The options of every command that runs jobs: --set, --results, --device, --quiet."""
    parent = options(set_option(set_example), results_option(), device_option())
    parent.add_argument("--quiet", action="store_true", help="no progress bar")
    return parent


def passed(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The parsed options `names`, as the keyword arguments of the call they go to."""
    return {name: getattr(args, name) for name in names}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="Ablate GAN training tricks with seeds, metrics and statistics."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    results, suites = results_option(), suites_option()
    commands = [  # name, help, shared options, the command's own options
        ("run", "expand a suite into seeded jobs and run them",
         [job_options("train.steps=200")], run_arguments),
        ("report", "write an HTML report (or a table) of results",
         [results, suites], report_arguments),
        ("plan", "the seeds a suite needs to detect an effect, from a pilot run's spread",
         [set_option("seeds=[0,1,2,3,4]")], plan_arguments),
        ("export", "print one row per job as CSV or JSON", [results, suites], export_arguments),
        ("regress", "compare the latest run with a baseline; exit 1 on a regression",
         [results], regress_arguments),
        ("tune", "search hyperparameters with Optuna ([tune] in the suite)",
         [job_options("tune.sampler=random")], tune_arguments),
        ("rerun", "run one job again from its folder's job.json alone",
         [device_option()], rerun_arguments),
        ("merge", "combine results folders (e.g. one per node) into one", [], merge_arguments),
        ("validate", "run suites/known_effects/ (established results) and print the verdicts",
         [job_options("seeds=[0,1]")], validate_arguments),
        ("tricks", "list the registered tricks, or show one in full", [], tricks_arguments),
    ]  # fmt: skip
    for name, text, shared, arguments in commands:
        arguments(sub.add_parser(name, parents=shared, help=text))
    return parser


def run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="suite file (TOML), e.g. suites/label_tricks.toml")
    parser.add_argument("--dry-run", action="store_true", help="print the job table, run nothing")
    parser.add_argument(
        "--jobs",
        type=int,
        help="jobs run in parallel (processes); default 1 on CPU, GPUs x jobs-per-GPU on CUDA",
    )
    parser.add_argument(
        "--max-jobs",
        type=int,
        metavar="N",
        help="refuse a suite that expands to more than N jobs (default: 10000)",
    )
    parser.add_argument(
        "--rerun-stale",
        action="store_true",
        help="also re-run finished jobs that were made by other code (another fingerprint)",
    )
    parser.add_argument(
        "--until-decided",
        action="store_true",
        help="sequential seeds for a suite with a list of seeds: its seeds are the first stage, "
        "then more seeds per stage for the comparisons not yet decided, up to --max-seeds",
    )
    parser.add_argument(
        "--max-seeds", type=int, metavar="N", help="with --until-decided: the most seeds to run"
    )
    parser.add_argument(
        "--seed-step",
        type=int,
        metavar="S",
        help="with --until-decided: seeds added per stage (default: half the listed seeds)",
    )
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument(
        "--no-capture",
        action="store_true",
        help="train eagerly on CUDA too (default: CUDA-graph-captured steps where possible)",
    )
    parser.add_argument(
        "--address", help="Ray cluster address (default: this node's, or a new one)"
    )
    threads_option(parser)
    per_gpu = parser.add_mutually_exclusive_group()
    per_gpu.add_argument(
        "--jobs-per-gpu", type=int, help="jobs packed on each GPU (default: automatic)"
    )
    per_gpu.add_argument(
        "--gpus-per-job", type=float, help="the GPU fraction each job gets, e.g. 0.25"
    )


def threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch threads per worker (default: OMP_NUM_THREADS if set, else the CPU cores "
        "shared among the workers); recorded in each job, not part of its id",
    )


def report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output file (default: reports/<suite>.html)")
    parser.add_argument("--format", choices=["html", "md", "csv"], default="html")
    parser.add_argument(
        "--revision", help="show this older definition of the suite (default: the current one)"
    )
    parser.add_argument(
        "--metric", help="the metric of the headline verdict (default: the suite's primary_metric)"
    )
    parser.add_argument(
        "--correction",
        choices=["holm", "bh"],
        help="multiple comparisons: Holm-Bonferroni or Benjamini-Hochberg (default: the suite's)",
    )
    parser.add_argument(
        "--interval",
        choices=["percentile", "bca"],
        help="bootstrap CI: percentile or BCa (default: the suite's, else percentile)",
    )


def plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="suite file (TOML)")
    parser.add_argument(
        "--pilot", required=True, metavar="RESULTS", help="a pilot's results folder"
    )
    parser.add_argument("--pilot-suite", help="the pilot's suite name (default: the suite's)")
    parser.add_argument(
        "--effect", type=float, metavar="X", help="the effect to detect, in metric units"
    )
    parser.add_argument("--metric", help="the metric (default: the suite's primary_metric)")


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["csv", "json"], default="csv")
    which_jobs = parser.add_mutually_exclusive_group()
    which_jobs.add_argument(
        "--revision", help="jobs of this older definition of the suite (default: the current)"
    )
    which_jobs.add_argument(
        "--all-jobs",
        action="store_true",
        help="every finished job, of any revision or code (see the suite_revision and "
        "fingerprint.* columns); nothing is pooled in an export",
    )


def regress_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", required=True, help="baseline file (JSON)")
    parser.add_argument("--suite", help="suite to check (default: the baseline's)")
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help="write the latest run as the new baseline (tolerances kept) instead of comparing",
    )
    parser.add_argument("--history", help="append one line per checked figure (JSONL)")
    parser.add_argument("--json", help="write github-action-benchmark customSmallerIsBetter")


def tune_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="suite file (TOML) with a [tune] table")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--variant",
        dest="variants",
        action="append",
        metavar="NAME",
        help="variant to tune (repeatable; default: the reference variant)",
    )
    which.add_argument("--all-variants", action="store_true", help="tune every variant equally")
    parser.add_argument(
        "--n-trials", type=int, metavar="N", help="finished trials per variant (default: [tune])"
    )
    parser.add_argument("--timeout", type=float, metavar="S", help="start no trial after S seconds")
    parser.add_argument(
        "--storage", help="SQLAlchemy URL (default: sqlite:///<results>/<suite>.trials/optuna.db)"
    )
    parser.add_argument("--study", help="study name prefix (default: the suite's name)")
    parser.add_argument(
        "--confirm", type=int, default=0, metavar="K", help="re-run each best with K fresh seeds"
    )
    parser.add_argument("--export", metavar="FILE.toml", help="write the tuned suite to FILE.toml")


def rerun_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job_dir", metavar="JOB_DIR", help="a job folder: results/<suite>/<job-id>")
    parser.add_argument("--into", default="reruns", help="results folder (default: reruns/)")


def merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SRC", help="results folders to merge")
    parser.add_argument("--into", required=True, help="the results folder to merge into")


def validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--suites", default="suites/known_effects", help="folder of known-effects suites"
    )
    parser.add_argument("--jobs", type=int, help="jobs run in parallel (processes)")
    threads_option(parser)


def tricks_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?")
    parser.add_argument("--markdown", action="store_true", help="the README's trick table")


@command("run")
def _run(args: argparse.Namespace) -> int:
    from bench.design import (
        design_floor,
        require_decidable,
        require_reachable,
        stage_plan,
        until_decided_overrides,
    )
    from bench.expand import plan_suite
    from bench.run.dry_run import job_table
    from bench.run.executors.threads import worker_threads

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: expected a positive number of parallel jobs")
    worker_threads(args.threads, 1)  # a bad --threads or OMP_NUM_THREADS: one line, exit 2
    if args.gpus_per_job is not None:
        if not 0 < args.gpus_per_job <= 1:
            raise ConfigError(f"--gpus-per-job {args.gpus_per_job}: expected a fraction in (0, 1]")
        args.jobs_per_gpu = int(1 / args.gpus_per_job + 1e-9)
    if args.jobs_per_gpu is not None and args.jobs_per_gpu < 1:
        raise ConfigError(f"--jobs-per-gpu {args.jobs_per_gpu}: expected a positive number")
    if args.until_decided != (args.max_seeds is not None):
        raise ConfigError("--until-decided and --max-seeds N go together")
    if args.seed_step is not None and not args.until_decided:
        raise ConfigError("--seed-step goes with --until-decided --max-seeds N")
    if args.until_decided:
        args.overrides = until_decided_overrides(
            args.suite, args.overrides, args.max_seeds, args.seed_step
        )
    if args.dry_run:
        from bench.run.preflight import check_jobs

        suite, jobs = plan_suite(args.suite, args.overrides, args.max_jobs)
        floor, stages = design_floor(suite), stage_plan(suite, args.suite)
        if stages is None:
            require_reachable(floor, args.suite)
        else:
            require_decidable(stages, args.suite)
        check_jobs(jobs, args.suite)
        if floor.exploratory:
            print(floor.warning(), file=sys.stderr)
        print(job_table(jobs, args.results, args.rerun_stale))
        print(floor.describe() if stages is None else stages.describe())
        print(f"{len(jobs)} jobs in suite '{suite.suite.name}' (dry run: nothing was started)")
        return 0
    from bench.sequential.runner import SequentialSummary, run_until_decided

    summary = run_until_decided(
        args.suite,
        args.overrides,
        workers=args.jobs,
        progress=not args.quiet,
        warn=lambda line: print(line, file=sys.stderr),
        capture=not args.no_capture,
        **passed(args, "results", "device", "jobs_per_gpu", "executor", "address"),
        **passed(args, "max_jobs", "rerun_stale", "threads"),
    )
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.statuses.items()))
    print(
        f"{summary.total} jobs: {summary.skipped} already finished"
        + (f", {counts}" if counts else "")
        + summary.threads_text()
        + f"; results in {args.results}/"
    )
    if summary.stale and not summary.rerun_stale:
        print(
            f"{summary.stale} of them were made by other code (another gan-bench source or "
            "library version) and are not pooled with this code's results; re-run them with "
            "--rerun-stale"
        )
    sequential = isinstance(summary, SequentialSummary)
    for line in summary.describe() if sequential else []:
        print(line)
    for note in summary.notes:
        print(note, file=sys.stderr)
    for path in summary.failed:
        print(f"failed: see {path}", file=sys.stderr)
    return 1 if summary.failed or (sequential and summary.incomplete) else 0


@command("report")
def _report(args: argparse.Namespace) -> int:
    from bench.atomic import atomic_write_bytes
    from bench.report import build_report, headline_text

    notes: list[str] = []

    def made_by(write: Callable, target: str | None) -> Any:
        """`build_report` (to the file `target`) or `headline_text` (in the format `target`)."""
        chosen = (args.results, args.suites, target, args.metric, args.correction)
        return write(*chosen, revision=args.revision, notes=notes, interval=args.interval)

    if args.format == "html":
        print(f"report written to {made_by(build_report, args.out)}")
    else:
        text = made_by(headline_text, args.format)
        if args.out:
            atomic_write_bytes(Path(args.out), text.encode())
        else:
            print(text, end="")
    for line in notes:
        print(line, file=sys.stderr)
    return 0


@command("plan")
def _plan(args: argparse.Namespace) -> int:
    from bench.report.pilot import pilot_plan

    if args.effect is not None and not args.effect > 0:
        raise ConfigError(f"--effect {args.effect}: expected a positive effect in metric units")
    print(
        pilot_plan(
            args.suite, args.pilot, args.effect, args.metric, args.pilot_suite, args.overrides
        )
    )
    return 0


@command("export")
def _export(args: argparse.Namespace) -> int:
    from bench.report import export_table

    notes: list[str] = []
    print(
        export_table(args.results, args.suites, args.format, args.revision, args.all_jobs, notes),
        end="",
    )
    for line in notes:
        print(line, file=sys.stderr)
    return 0


@command("tune")
def _tune(args: argparse.Namespace) -> int:
    from bench.tune import format_summary, tune_suite

    tuning = ("variants", "all_variants", "n_trials", "timeout", "storage", "study", "confirm")
    summary = tune_suite(
        args.suite,
        args.overrides,
        **passed(args, *tuning, "export", "results", "device"),
        progress=not args.quiet,
    )
    print(format_summary(summary))
    failed = any(v.failed for v in summary.variants)
    return 1 if failed or (summary.confirmation and summary.confirmation.failed) else 0


@command("regress")
def _regress(args: argparse.Namespace) -> int:
    from bench.regress import (
        append_history,
        format_comparison,
        regress,
        update_baseline,
        write_benchmark_json,
    )

    if args.update_baseline:
        if args.history or args.json:
            raise ConfigError("--update-baseline compares nothing: drop --history and --json")
        baseline = update_baseline(args.results, args.baseline, args.suite)
        seeds = sum(len(v.seeds) for v in baseline.variants.values())
        print(
            f"baseline of suite '{baseline.suite}' ({len(baseline.variants)} variants, {seeds} "
            f"jobs, {baseline.provenance.device}) written to {args.baseline}"
        )
        return 0
    comparison = regress(args.results, args.baseline, args.suite)
    print(format_comparison(comparison))
    if args.history:
        append_history(args.history, comparison)
    if args.json:
        write_benchmark_json(args.json, comparison)
    return 1 if comparison.regressions else 0


@command("rerun")
def _rerun(args: argparse.Namespace) -> int:
    from bench.run.rerun import rerun_job

    rerun = rerun_job(args.job_dir, args.into, args.device)
    print(rerun.describe())
    return 1 if rerun.failed else 0


@command("merge")
def _merge(args: argparse.Namespace) -> int:
    from bench.run.store.merge import merge_results

    summary = merge_results(args.sources, args.into)
    print(summary.describe())
    return 0


@command("validate")
def _validate(args: argparse.Namespace) -> int:
    from bench.report import headline_text
    from bench.run.executors.threads import worker_threads
    from bench.run.validate import validate
    from bench.sequential.runner import run_until_decided

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: expected a positive number of parallel jobs")
    worker_threads(args.threads, 1)
    failed, names = 0, []
    for path, name, summary in validate(
        args.suites,
        args.overrides,
        args.results,
        args.device,
        args.jobs,
        not args.quiet,
        run_until_decided,
        args.threads,
    ):
        counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.statuses.items()))
        print(
            f"{path}: {summary.total} jobs"
            + (f" ({counts})" if counts else "")
            + summary.threads_text()
        )
        failed += len(summary.failed)
        names.append(name)
    print(headline_text(args.results, names, "md"), end="")
    return 1 if failed else 0


@command("tricks")
def _tricks(args: argparse.Namespace) -> int:
    from bench.tricks.catalog import describe_trick, markdown_table, trick_table

    if args.markdown:
        print(markdown_table())
    else:
        print(describe_trick(args.name) if args.name else trick_table())
    return 0


CLOSED_PIPE_EXIT = 128 + 13  # what a shell reports for a process ended by SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a closed output pipe (`bench tricks | head -1`) ends it quietly."""
    try:
        try:
            return run_command(argv)
        finally:
            sys.stdout.flush()  # output still buffered meets a closed pipe here, not at exit
    except BrokenPipeError:
        return reader_gone()


def run_command(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


def reader_gone() -> int:
    """The reader of our output has gone: point stdout and stderr at the null device, so the
    interpreter's last flush cannot fail again, and exit as Unix tools do after SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        os.dup2(devnull, stream.fileno())
    os.close(devnull)
    return CLOSED_PIPE_EXIT


if __name__ == "__main__":
    sys.exit(main())
