"""What checkpoint evaluation adds to the main job's cost, by wall clock and by CPU time.

The jobs of `suites/label_tricks.toml` (a subset of seeds and variants by default) run in
this process, one after another, once with the default checkpoints (1/8, 1/4, 1/2 and 3/4 of
training, scored with half the samples and KID over 10 subsets; `bench.run.job.scoring`) and once
with `eval.at = []` (the end only). The two alternate job by job, so a load that comes and
goes on the machine hits both alike; the totals of each are compared. The final metrics of
each pair must agree exactly: checkpoints never change training.

    PYTHONPATH=. python benchmarks/checkpoint_cost.py --seeds 2 --variants 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from bench.config import load_suite
from bench.data import load_dataset
from bench.expand import Job, expand
from bench.metrics import prepare_backbone
from bench.run.job.phases import run_job
from bench.run.store.results import ResultsStore

SUITE = Path(__file__).resolve().parent.parent / "suites" / "label_tricks.toml"
CPU = torch.device("cpu")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def end_only(job: Job) -> Job:
    """The same job scored only at the end of training."""
    cfg = job.config
    config = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"at": ()})})
    return Job(job.suite, job.variant, job.seed, config)


def timed(job: Job, store: ResultsStore) -> tuple[dict[str, float], dict]:
    """Wall and CPU seconds of running `job`, and its record."""
    started = {name: clock() for name, clock in CLOCKS.items()}
    record = run_job(job, store, CPU)
    return {name: clock() - started[name] for name, clock in CLOCKS.items()}, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per variant (of 8)")
    parser.add_argument("--variants", type=int, default=4, help="variants (of 4)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a worker's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    suite = load_suite(SUITE)
    variants = list(dict.fromkeys(job.variant for job in expand(suite)))[: args.variants]
    jobs = [j for j in expand(suite) if j.variant in variants and j.seed < args.seeds]
    prepare_backbone(load_dataset(jobs[0].config.data), jobs[0].config.eval)
    totals = {kind: dict.fromkeys(CLOCKS, 0.0) for kind in ("checkpoints", "end only")}
    points = jobs[0].config.evaluation_steps
    with tempfile.TemporaryDirectory() as scratch:
        store = ResultsStore(scratch)
        timed(end_only(jobs[0]), ResultsStore(Path(scratch) / "warm-up"))
        for job in jobs:
            spent, with_points = timed(job, store)
            for name, seconds in spent.items():
                totals["checkpoints"][name] += seconds
            spent, plain = timed(end_only(job), store)
            for name, seconds in spent.items():
                totals["end only"][name] += seconds
            if with_points["metrics"] != plain["metrics"]:
                raise SystemExit(f"{job.variant} seed {job.seed}: checkpoints changed training")
    print(f"{len(jobs)} jobs of {SUITE.name} ({', '.join(variants)}; seeds 0-{args.seeds - 1})")
    print(f"checkpoints at steps {', '.join(map(str, points))}; final metrics identical")
    for name in CLOCKS:
        base, more = totals["end only"][name], totals["checkpoints"][name]
        print(f"{name:>4}: end only {base:6.1f} s, with checkpoints {more:6.1f} s "
              f"({100 * (more / base - 1):+.0f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
