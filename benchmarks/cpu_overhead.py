"""The harness's training speed against a plain eager loop, on CPU, in one process.

Same 8x8 digits DCGAN (the tests' tiny one: latent 8, widths 8; batch 32; log every 25
steps), one thread: a launch-bound step, where per-step overhead shows. Blocks of the two
alternate, each timed from building the nets to the last step (the harness's `train()`
whole: log points, monitor read-backs and the sample probe included), and the medians of
the per-block rates are compared, by wall clock and by this process's CPU time (the latter
barely moves when other work shares the machine).

    PYTHONPATH=. python benchmarks/cpu_overhead.py --blocks 9 --steps 200
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from plain_loop import PlainLoop

from bench.config import DataConfig, JobConfig, ModelConfig, TrainConfig
from bench.data import load_dataset
from bench.train.loop import train

CPU = torch.device("cpu")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed(run: Callable[[], None]) -> dict[str, float]:
    """Seconds `run` took by each clock."""
    start = {name: clock() for name, clock in CLOCKS.items()}
    run()
    return {name: clock() - start[name] for name, clock in CLOCKS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=9, help="blocks of each, interleaved")
    parser.add_argument("--steps", type=int, default=200, help="iterations per block")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = ModelConfig(latent_dim=8, g_width=8, d_width=8)
    cfg = JobConfig(
        data=DataConfig(name="digits"),
        model=model,
        train=TrainConfig(steps=args.steps, batch_size=32),
    )
    data = load_dataset(cfg.data).train
    runs = {
        "plain": lambda seed: PlainLoop(cfg, data, seed).run(args.steps),
        "harness": lambda seed: train(cfg, seed, data, [], CPU),
    }
    for run in runs.values():
        run(0)  # warm-up: first-call allocations
    rates: dict[tuple[str, str], list[float]] = {}
    for block in range(args.blocks):
        for name, run in runs.items():
            for clock, seconds in timed(lambda run=run, block=block: run(block)).items():
                rates.setdefault((name, clock), []).append(args.steps / seconds)
    median = {key: statistics.median(values) for key, values in rates.items()}
    print(f"torch {torch.__version__}, 1 thread, {args.blocks} blocks x {args.steps} steps")
    for clock in CLOCKS:
        plain, harness = median["plain", clock], median["harness", clock]
        print(
            f"{clock:>4} clock: plain eager loop {plain:6.1f} steps/s, harness train() "
            f"{harness:6.1f} steps/s, ratio {harness / plain:.3f} (medians)"
        )


if __name__ == "__main__":
    main()
