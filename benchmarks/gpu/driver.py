"""The GPU check behind benchmarks/gpu/check.sh: tests, speed, packing, evaluation, memory.

One run on one CUDA device, sized to finish in `BUDGET_S` (8 minutes on an H100/H200):
  0. setup:        the domain backbone the scores use, trained once into this run's cache
                   (no timed section retrains it);
  1. tests:        the `gpu`-marked tests (tests/gpu);
  2. packed suite: the real path, `bench run --executor local --device cuda` on a small
                   suite (DCGAN, spectral norm, minibatch discrimination, ResNet, an
                   eager-only trick; two seeds): memory probe, spawned packed worker,
                   capture, scoring inside a slot;
  3. per job:      a plain eager loop (benchmarks/plain_loop.py) vs the harness eager vs the
                   harness captured, 32x32 DCGAN (digits resized to 32 px), batch 64; then
                   the harness with each trick alone (captured where it can be);
  4. suite:        16 jobs packed on 16 streams of this process vs the same 16 run one at a
                   time by the plain loop: wall time, model-steps/s of all jobs together,
                   and the peak memory the packed run added;
  5. evaluation:   FID on 10k samples with and without cached reference statistics, and the
                   memory probe's figures (`bench.run.executors.memory_probe.probe_memory`).
It prints every figure and writes benchmarks/RESULTS.md (command, device, torch, date,
targets met or not). `--dry-run` (on CPU) checks the imports, the packed suite and the plan.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from plain_loop import PlainLoop  # noqa: E402

from bench.config import DataConfig, EvalConfig, JobConfig, ModelConfig, TrainConfig  # noqa: E402
from bench.data import load_dataset  # noqa: E402
from bench.errors import ConfigError  # noqa: E402
from bench.expand import Job, plan_suite  # noqa: E402
from bench.metrics import evaluate, prepare_backbone  # noqa: E402
from bench.metrics.cache import CACHE_ENV  # noqa: E402
from bench.run.executors.memory_probe import probe_memory  # noqa: E402
from bench.run.executors.round_robin import RoundRobin  # noqa: E402
from bench.run.job.device import deterministic_kernels  # noqa: E402
from bench.train.capture import graph_support_missing  # noqa: E402
from bench.train.loop import train, training  # noqa: E402
from bench.tricks.registry import all_tricks, build_tricks, resolve_tricks  # noqa: E402

BUDGET_S = 8 * 60
TESTS_TIMEOUT_S = 280  # twice the plan: a hung test must leave time for the rest
RESULTS = REPO / "benchmarks" / "RESULTS.md"
FAST = {"langevin_refinement": {"steps": 2}}


def alone(name: str) -> dict[str, dict]:
    """Trick `name` on its own, with the tricks it `requires` beside it (`FAST` settings)."""
    return {other: FAST.get(other, {}) for other in [*all_tricks()[name].requires, name]}


PACKED_SUITE = """
[suite]
name = "gpu_check"
description = "the packed executor end to end on CUDA"
design = "variants"
seeds = [0, 1]
exploratory = "a GPU check of the packed executor, not an experiment"

[base.data]
name = "digits"
image_size = 32

[base.train]
steps = 300
batch_size = 64
log_every = 100

[base.eval]
metrics = ["fid"]
num_samples = 1000
backbone = "domain"

[variants.spectral_norm]
tricks = { spectral_norm = {} }

[variants.minibatch_discrimination]
tricks = { minibatch_discrimination = {} }

[variants.resnet]
set = { "model.arch" = "resnet" }

[variants.eager_only]
tricks = { loss_threshold_balancing = {} }
"""
RERUN_VARIANTS = ("baseline", "spectral_norm")  # seed 0 of each: DCGAN, and one using cuBLAS
TARGETS = {
    "packed suite: share of jobs ok": 1.0,
    "packed jobs rerun alone bit for bit": 1.0,
    "captured / plain": 4.0,
    "worst single trick / plain": 1.0,
    "packed / one at a time": 10.0,
    "packed model-steps/s (H100)": 1500.0,
}


@dataclass
class Section:
    """One part of the check: its name, planned seconds, and what it does."""

    name: str
    planned_s: int
    run: Callable[[Report], None]
    plan: str


@dataclass
class Report:
    """Lines of RESULTS.md, figures by name, targets checked, and the check's deadline
    (`time.perf_counter()` seconds): long loops stop there and say what they left out."""

    lines: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)
    deadline: float = float("inf")

    def out_of_time(self) -> bool:
        return time.perf_counter() >= self.deadline

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def target(self, name: str, value: float) -> None:
        goal = TARGETS[name]
        met = "met" if value >= goal else "MISSED"
        self.verdicts.append(f"| {name} | {value:.2f} | >= {goal:g} | {met} |")


def job_config(steps: int, **tricks: dict) -> JobConfig:
    """The benchmark job: DCGAN (widths 64) on digits at 32 px, batch 64."""
    return JobConfig(
        data=DataConfig(name="digits", image_size=32),
        model=ModelConfig(),
        train=TrainConfig(steps=steps, batch_size=64),
        eval=EvalConfig(metrics=("fid",), num_samples=10_000),
        tricks=tricks,
    )


def harness_rate(cfg: JobConfig, data: torch.Tensor, capture: bool, **extra) -> tuple[float, str]:
    """Steps/s of `train()` (its own training time: warm-up and capture included)."""
    outcome = train(cfg, 0, data, extra.pop("tricks", []), data.device, capture=capture, **extra)
    torch.cuda.synchronize()
    return outcome.steps_completed / outcome.train_time_s, outcome.execution["mode"]


def cache_dir() -> Path:
    """This run's cache (backbone, reference statistics), set up by `setup_section`."""
    return Path(os.environ[CACHE_ENV])


def setup_section(report: Report) -> None:
    cfg = job_config(1)
    started = time.perf_counter()
    prepare_backbone(load_dataset(cfg.data), cfg.eval, cache_dir())
    report.say(
        f"domain backbone trained once into this run's cache: {time.perf_counter() - started:.0f} s"
    )


def tests_section(report: Report) -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "gpu",
        "tests/gpu",
        "-q",
        "-rfE",
        "-p",
        "no:cacheprovider",
    ]
    # The image's own pytest plugins are not this project's and may not match the pytest
    # carried in .whl/: none is loaded.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TESTS_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as err:
        print(err.stdout or "", err.stderr or "", sep="\n", flush=True)  # what ran, and where
        raise
    output = (done.stdout + done.stderr).strip()
    print(output, flush=True)  # the whole log on the console; RESULTS.md gets the summary
    lines = output.splitlines()
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    seconds = time.perf_counter() - started
    report.say(f"`{shlex.join(command[1:])}`: exit {done.returncode} in {seconds:.0f} s")
    report.say("```\n" + "\n".join([*failures, *lines[-2:]]) + "\n```")
    report.figures["gpu tests exit code"] = done.returncode


def per_job_section(report: Report, steps: int = 1000, trick_steps: int = 300) -> None:
    cfg = job_config(steps)
    data = load_dataset(cfg.data).train.to("cuda")
    plain = PlainLoop(cfg, data)
    plain.run(50)
    free = "harness captured, cuDNN free to choose (not deterministic)"
    rates = {"plain eager loop": [], "harness eager": [], "harness captured": [], free: []}
    for _ in range(3):  # interleaved, medians; the harness with the kernels jobs train with
        rates["plain eager loop"].append(plain.run(steps))
        rates["harness eager"].append(harness_rate(cfg, data, capture=False)[0])
        rates["harness captured"].append(harness_rate(cfg, data, capture=True)[0])
        deterministic_kernels(data.device, on=False)
        rates[free].append(harness_rate(cfg, data, capture=True)[0])
        deterministic_kernels(data.device)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    base = medians["plain eager loop"]
    report.say(
        f"{steps} steps per run, 3 runs each, interleaved; medians. Every run uses the "
        "deterministic kernels `bench run` jobs train with, except the last:"
    )
    report.say("| run | steps/s | x plain |\n| --- | ---: | ---: |")
    for name, rate in medians.items():
        report.say(f"| {name} | {rate:.0f} | {rate / base:.2f} |")
    report.target("captured / plain", medians["harness captured"] / base)
    report.figures.update({f"{name} steps/s": rate for name, rate in medians.items()})
    report.say(f"\nEach trick alone ({trick_steps} steps, captured where it can be):")
    report.say("| trick | mode | steps/s | x plain |\n| --- | --- | ---: | ---: |")
    dataset = load_dataset(cfg.data)
    labels = None if dataset.train_labels is None else dataset.train_labels.to("cuda")
    worst, left_out = float("inf"), []
    for name in sorted(all_tricks()):
        if report.out_of_time():
            left_out.append(name)
            continue
        trick_cfg = job_config(trick_steps, **alone(name))
        try:
            tricks = build_tricks(resolve_tricks(trick_cfg.tricks, "check", dataset.capabilities))
        except ConfigError as err:  # e.g. a trick this dataset cannot feed
            report.say(f"| {name} | not applicable: {err} | | |")
            continue
        try:
            rate, mode = harness_rate(
                trick_cfg, data, True, tricks=tricks, labels=labels, num_classes=dataset.num_classes
            )
        except Exception as err:  # a trick that breaks here is a finding, not the end
            report.say(f"| {name} | failed: {type(err).__name__}: {err} | | |")
            worst = 0.0
            continue
        worst = min(worst, rate / base)
        report.say(f"| {name} | {mode} | {rate:.0f} | {rate / base:.2f} |")
    if left_out:
        report.say(f"\nNot run (time budget): {', '.join(left_out)}")
    report.target("worst single trick / plain", worst)


def packed_suite_section(report: Report) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        suite, results, cache = folder / "suite.toml", folder / "results", folder / "cache"
        suite.write_text(PACKED_SUITE)
        shutil.copytree(cache_dir(), cache)  # the backbone; later sections time their own
        env = {**os.environ, CACHE_ENV: str(cache)}
        started = time.perf_counter()
        run = ["run", str(suite), "--executor", "local", "--device", "cuda"]
        done = bench_cli([*run, "--results", str(results)], env)
        seconds = time.perf_counter() - started
        records = [json.loads(path.read_text()) for path in results.glob("*/*/result.json")]
        errors = {
            path.parent.name: path.read_text().strip() for path in results.glob("*/*/error.txt")
        }
        print(done.stdout + done.stderr, *errors.values(), sep="\n", flush=True)
        reruns = {
            variant: rerun_alone(job, folder / "reruns", env)
            for variant, job in rerun_folders(results).items()
        }
    expected = len(plan_suite_text(PACKED_SUITE)[1])
    report.say(
        f"`bench run suite.toml --executor local --device cuda`: exit {done.returncode}, "
        f"{seconds:.0f} s"
    )
    tail = (done.stdout + done.stderr).strip().splitlines()[-4:]
    report.say("```\n" + "\n".join(tail) + "\n```")
    report.say(
        "| variant | seed | status | mode | slot | steps/s while packed (shares the GPU) "
        "| train s | scoring s | wall s |\n"
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    )
    for r in sorted(records, key=lambda r: (r["variant"], r["seed"])):
        e = r["execution"]
        report.say(
            f"| {r['variant']} | {r['seed']} | {r['status']} | {e['mode']} | "
            f"{e.get('stream')} of {e.get('packed')} | {r['steps_per_s']:.0f} | "
            f"{r['train_time_s']:.1f} | {r['eval_time_s']:.1f} | {r['wall_time_s']:.1f} |"
        )
    for job, text in errors.items():
        report.say(f"job {job} failed: {(text.splitlines() or ['(empty error.txt)'])[-1]}")
    ok = sum(r["status"] == "ok" for r in records)
    report.target("packed suite: share of jobs ok", ok / expected)
    report.say("\n`bench rerun JOB_DIR --device cuda` (alone, in a fresh process) of packed jobs:")
    report.say("| job | exit | what it said |\n| --- | ---: | --- |")
    for variant, (code, said) in reruns.items():
        report.say(f"| {variant} | {code} | {said} |")
    identical = sum(code == 0 for code, _ in reruns.values())
    report.target("packed jobs rerun alone bit for bit", identical / len(RERUN_VARIANTS))
    report.figures["packed suite jobs ok"] = ok


def bench_cli(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`bench ARGV` in a fresh process, as a user runs it."""
    command = [sys.executable, "-c", "import sys; from bench.cli import main; sys.exit(main())"]
    return subprocess.run(
        command + argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def rerun_folders(results: Path) -> dict[str, Path]:
    """The folder of seed 0 of each of `RERUN_VARIANTS`, by variant."""
    chosen = {}
    for path in sorted(results.glob("*/*/result.json")):
        record = json.loads(path.read_text())
        if record["seed"] == 0 and record["variant"] in RERUN_VARIANTS:
            chosen[record["variant"]] = path.parent
    return chosen


def rerun_alone(job: Path, into: Path, env: dict[str, str]) -> tuple[int, str]:
    """`bench rerun` of a packed job: the exit code, and its last line."""
    done = bench_cli(["rerun", str(job), "--into", str(into), "--device", "cuda"], env)
    print(done.stdout + done.stderr, flush=True)
    said = (done.stdout + done.stderr).strip().splitlines() or ["(nothing)"]
    return done.returncode, said[-1].replace("|", "/")


def plan_suite_text(text: str) -> tuple[object, list[Job]]:
    """The packed suite's jobs (it is checked as `bench run` would check it)."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "suite.toml"
        path.write_text(text)
        return plan_suite(path)


def suite_section(report: Report, jobs: int = 16, steps: int = 300) -> None:
    cfg = job_config(steps)
    data = load_dataset(cfg.data).train.to("cuda")
    torch.cuda.synchronize()
    started = time.perf_counter()
    for seed in range(jobs):
        PlainLoop(cfg, data, seed).run(steps)
    one_at_a_time = time.perf_counter() - started
    streams = [torch.cuda.Stream() for _ in range(jobs)]
    seeds = iter(range(jobs))
    ended: list[object] = []
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    before = torch.cuda.memory_reserved()
    torch.cuda.reset_peak_memory_stats()  # the peak of this packed run, not of the process
    started = time.perf_counter()
    RoundRobin(
        jobs,
        lambda: next(seeds, None),
        lambda seed, slot: training(cfg, seed, data, [], data.device),
        lambda seed, outcome, error: ended.append(outcome or error),
        lambda slot: torch.cuda.stream(streams[slot]),
    ).run()
    torch.cuda.synchronize()
    packed = time.perf_counter() - started
    failed = [e for e in ended if isinstance(e, BaseException)]
    total = jobs * steps
    added = torch.cuda.max_memory_reserved() - before
    report.say(f"{jobs} jobs x {steps} steps (training only; the harness's log points included)")
    report.say("| run | wall s | model-steps/s, all jobs together |\n| --- | ---: | ---: |")
    report.say(f"| plain loop, one at a time | {one_at_a_time:.1f} | {total / one_at_a_time:.0f} |")
    report.say(f"| harness, packed on {jobs} streams | {packed:.1f} | {total / packed:.0f} |")
    if failed:
        report.say(f"packed jobs that raised: {failed}")
    report.target("packed / one at a time", one_at_a_time / packed)
    report.target("packed model-steps/s (H100)", total / packed)
    report.say(
        f"peak memory the packed run added: {added / 2**30:.2f} GiB, "
        f"{added / jobs / 2**30:.3f} GiB a job"
    )
    report.figures["packed GiB a job"] = added / jobs / 2**30


def evaluation_section(report: Report) -> None:
    cfg = job_config(200)
    dataset = load_dataset(cfg.data)
    outcome = train(cfg, 0, dataset.train.to("cuda"), [], torch.device("cuda"))
    generator = outcome.generator.eval()

    @torch.no_grad()
    def generate(n: int) -> torch.Tensor:
        z = torch.randn(n, cfg.model.latent_dim, device="cuda")
        return generator(z).float()

    times = []
    for _ in ("computed", "cached"):  # the backbone was trained in setup
        started = time.perf_counter()
        result = evaluate(generate, dataset, cfg.eval, torch.device("cuda"), cache_dir())
        times.append(time.perf_counter() - started)
    backbone = result.provenance.get("backbone")
    report.say(f"FID ({backbone} backbone), 10k samples: {result.values.get('fid'):.2f}")
    report.say(f"| reference statistics | seconds |\n| --- | ---: |\n| computed | {times[0]:.1f} |")
    report.say(f"| cached | {times[1]:.1f} |")
    job = Job("check", "baseline", 0, job_config(500))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as probe:  # as `bench run` does
        free, training, scoring = probe.submit(probe_memory, [job], True).result()
    train_bytes = max(training.values())
    report.say(
        f"memory probe (a throwaway process, as `bench run` runs it): training one job adds "
        f"{train_bytes / 2**30:.2f} GiB, scoring one {scoring / 2**30:.2f} GiB more; "
        f"{free[0] / 2**30:.0f} GiB free"
    )
    report.figures["job training GiB"] = train_bytes / 2**30
    report.figures["job scoring GiB"] = scoring / 2**30


SECTIONS = [
    Section("setup", 30, setup_section, "the domain backbone, trained once into this run's cache"),
    Section(
        "tests", 140, tests_section, "pytest -m gpu tests/gpu (captured = eager, packed = alone)"
    ),
    Section("packed suite", 80, packed_suite_section, "bench run --executor local --device cuda"),
    Section(
        "per job", 100, per_job_section, "plain vs harness eager vs captured; every trick alone"
    ),
    Section(
        "suite", 40, suite_section, "16 jobs packed on streams vs 16 plain loops one at a time"
    ),
    Section(
        "evaluation", 30, evaluation_section, "FID 10k, reference stats cached or not; job memory"
    ),
]


def write_results(report: Report, command: str, skipped: list[str]) -> None:
    device = torch.cuda.get_device_name(0)
    head = [
        "# GPU check results",
        "",
        f"Command: `{command}`  ",
        f"Device: {device}; torch {torch.__version__}; Python {platform.python_version()}  ",
        f"Date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        "| target | measured | goal | |",
        "| --- | ---: | ---: | --- |",
        *report.verdicts,
        "",
    ]
    if skipped:
        head.append(f"Not run (time budget): {', '.join(skipped)}\n")
    RESULTS.write_text("\n".join(head + report.lines) + "\n")
    print(f"wrote {RESULTS}")


def check_plan() -> None:
    """What a dry run can check without a GPU: the benchmark data loads at 32 px, every
    trick builds for it, and the gpu tests collect."""
    cfg = job_config(1)
    dataset = load_dataset(cfg.data)
    assert dataset.train.shape[1:] == (1, 32, 32), dataset.train.shape
    for name in all_tricks():
        build_tricks(resolve_tricks(alone(name), "check", dataset.capabilities))
    jobs = plan_suite_text(PACKED_SUITE)[1]
    print(f"  packed suite: {len(jobs)} jobs ({', '.join(sorted({job.variant for job in jobs}))})")
    import pytest

    collected = pytest.main(
        ["--collect-only", "-qq", "-p", "no:cacheprovider", str(REPO / "tests/gpu")]
    )
    assert collected in (0, 5), (
        f"tests/gpu does not collect (pytest exit {collected})"
    )  # 5: skipped
    print(f"  data {tuple(dataset.train.shape)}; every trick builds; tests/gpu collects")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="check imports and plan; no GPU")
    args = parser.parse_args(argv)
    planned = sum(section.planned_s for section in SECTIONS)
    print(f"plan ({planned} s planned of a {BUDGET_S} s budget):")
    for section in SECTIONS:
        print(f"  {section.name:<11} ~{section.planned_s:>3} s  {section.plan}")
    assert planned <= BUDGET_S - 60, "the plan leaves no margin in the budget"
    capturable = sum(cls.capturable for cls in all_tricks().values())
    print(
        f"  tricks: {len(all_tricks())} ({capturable} capturable); benchmark job: "
        f"{job_config(1).model.g_width}-wide DCGAN, 32 px, batch 64"
    )
    if args.dry_run:
        check_plan()
        print("dry run: imports, configs and plan are fine; nothing ran on a GPU")
        return 0
    if not torch.cuda.is_available():
        print("error: no CUDA device here (use --dry-run to check the script)", file=sys.stderr)
        return 2
    missing = graph_support_missing()
    if missing:
        print(f"warning: {missing}; captured runs fall back to eager", file=sys.stderr)
    started = time.perf_counter()
    report, skipped = Report(deadline=started + BUDGET_S), []
    command = os.environ.get("GPU_CHECK_COMMAND", "bash benchmarks/gpu/check.sh")
    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="gan-bench-gpu-check-")
    deterministic_kernels(torch.device("cuda"))  # as every `bench run` job (phases.load)
    for section in SECTIONS:
        if time.perf_counter() - started + section.planned_s > BUDGET_S:
            skipped.append(section.name)
            continue
        report.say(f"\n## {section.name}\n")
        section_start = time.perf_counter()
        try:
            section.run(report)
        except Exception as err:  # a finding: the rest of the check still runs
            report.say(f"section failed: {type(err).__name__}: {err}")
            report.figures[f"{section.name} failed"] = 1
        report.say(f"\n({section.name}: {time.perf_counter() - section_start:.0f} s)")
        write_results(report, command, skipped)  # after each section: a cut-off run keeps it
    write_results(report, command, skipped)
    return 0 if report.figures.get("gpu tests exit code", 1) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
