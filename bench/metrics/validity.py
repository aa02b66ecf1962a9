"""Validity checks of the image metrics, shared by the tests and docs/metrics.md.

`disturbance_scores` reproduces Heusel et al. (2017), Fig. 1: real training images, disturbed
at increasing levels, scored against the reference split; FID and KID should grow with every
level. `seed_spread` scores one sampler under several evaluation seeds. Print both tables with

    python -m bench.metrics.validity --data digits --num-samples 500 --reference-samples 200
    python -m bench.metrics.validity --data mnist --root MNIST_DIR --num-samples 2000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from bench.config import DataConfig, EvalConfig
from bench.metrics import evaluate
from bench.metrics.backbones import domain_backbone
from bench.metrics.cache import default_cache_dir
from bench.metrics.disturbances import LEVELS, disturb

if TYPE_CHECKING:
    from bench.data.base import Dataset

CPU = torch.device("cpu")


def fixed_images(images: Tensor) -> Callable[[int], Tensor]:
    """A 'generator' that returns the first `n` of `images`."""
    return lambda n: images[:n]


def subset_sampler(images: Tensor, seed: int) -> Callable[[int], Tensor]:
    """A 'generator' that returns `n` of `images` drawn without replacement, seeded."""

    def generate(n: int) -> Tensor:
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        return images[order[:n]]

    return generate


def disturbance_scores(
    dataset: Dataset, cfg: EvalConfig, cache_dir: Path | None = None
) -> dict[str, list[dict[str, float]]]:
    """For each disturbance, FID/KID (as in `cfg`) of the first `cfg.num_samples` training
    images at each level of `LEVELS`, against `cfg.reference_split`."""
    images = dataset.train[: cfg.num_samples]
    table: dict[str, list[dict[str, float]]] = {}
    for name, levels in LEVELS.items():
        table[name] = []
        for level in levels:
            disturbed = fixed_images(disturb(images, name, level))
            result = evaluate(disturbed, dataset, cfg, CPU, cache_dir)
            table[name].append({"level": level, **result.values})
    return table


def seed_spread(
    dataset: Dataset, cfg: EvalConfig, seeds: range, cache_dir: Path | None = None
) -> list[dict[str, float]]:
    """Scores of `cfg.num_samples` training images drawn with each evaluation seed (which also
    seeds torch-fidelity's KID subsets), as a generator's samples would be."""
    rows = []
    for seed in seeds:
        seeded = cfg.model_copy(update={"seed": seed})
        sampler = subset_sampler(dataset.train, seed)
        result = evaluate(sampler, dataset, seeded, CPU, cache_dir)
        rows.append({"seed": seed, **result.values})
    return rows


def markdown(rows: list[dict[str, float]], first: str) -> str:
    """A markdown table of `rows` with column `first` first."""
    columns = [first, *(key for key in rows[0] if key != first)]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(f"{row[c]:.4g}" for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    from bench.data import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--root", default=None)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--reference-samples", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    dataset = load_dataset(DataConfig(name=args.data, root=args.root, image_size=args.image_size))
    cfg = EvalConfig(
        metrics=("fid", "kid"),
        num_samples=args.num_samples,
        reference_samples=args.reference_samples,
        backbone="domain",
    )
    started = time.perf_counter()
    for name, rows in disturbance_scores(dataset, cfg).items():
        print(f"\n{name}\n\n{markdown(rows, 'level')}")
    print(f"\nevaluation seeds\n\n{markdown(seed_spread(dataset, cfg, range(args.seeds)), 'seed')}")
    backbone = domain_backbone(dataset, default_cache_dir())
    print(f"\n{time.perf_counter() - started:.0f} s; dataset {dataset.name} {dataset.version}")
    print(f"backbone {backbone.version}, test accuracy {backbone.test_accuracy:.4f}")


if __name__ == "__main__":
    main()
