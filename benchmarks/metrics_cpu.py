"""CPU wall and CPU time of one evaluation on MNIST at 32 px with the domain backbone.

Generated images are test-split digits drawn with replacement (the content does not change the
cost); the reference is the 8000-image train split, cached after a first, untimed call.

    GAN_BENCH_CACHE=/tmp/gb-cache python benchmarks/metrics_cpu.py --root MNIST_DIR
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.config import DataConfig, EvalConfig
from bench.data import load_dataset
from bench.metrics import evaluate

METRIC_SETS = (("fid",), ("fid", "isc", "kid", "prc"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 10_000])
    args = parser.parse_args()
    dataset = load_dataset(DataConfig(name="mnist", root=args.root, image_size=32))
    cpu = torch.device("cpu")

    def generate(n: int) -> torch.Tensor:
        picks = torch.randint(len(dataset.test), (n,), generator=torch.Generator().manual_seed(0))
        return dataset.test[picks]

    print("| generated | reference | metrics | wall s | CPU s |\n|---|---|---|---|---|")
    for count in args.counts:
        for metrics in METRIC_SETS:
            cfg = EvalConfig(
                metrics=metrics, num_samples=count, reference_split="train", backbone="domain"
            )
            evaluate(generate, dataset, cfg, cpu)  # trains/loads the backbone, caches the reference
            wall, cpu_time = time.perf_counter(), time.process_time()
            result = evaluate(generate, dataset, cfg, cpu)
            wall, cpu_time = time.perf_counter() - wall, time.process_time() - cpu_time
            reference = result.provenance["num_reference"]
            print(f"| {count} | {reference} | {', '.join(metrics)} | {wall:.1f} | {cpu_time:.1f} |")


if __name__ == "__main__":
    main()
