"""Fixed datasets for the metrics tests, independent of `bench.data`'s splits: sklearn's 8x8
digits and an 8-mode ring; and the real MNIST files where this machine has them (tests that
need them skip otherwise)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from sklearn.datasets import load_digits

from bench.data import Dataset
from bench.data.idx import TEST_FILES, find_idx

MNIST_ROOT = Path(__file__).resolve().parents[2] / "../shared/data/mnist"


@pytest.fixture(scope="session")
def digits() -> Dataset:
    """1437 train and 360 test digits, [N, 1, 8, 8] in [-1, 1]."""
    raw = load_digits()
    images = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 8 - 1
    labels = torch.tensor(raw.target, dtype=torch.int64)
    return Dataset(
        "digits", "image", images[:1437], images[1437:], labels[:1437], labels[1437:], 10, "test-v1"
    )


@pytest.fixture(scope="session")
def ring() -> Dataset:
    """Eight Gaussians of std 0.02 on a circle of radius 2."""
    angles = torch.arange(8) * 2 * math.pi / 8
    modes = 2 * torch.stack([angles.cos(), angles.sin()], dim=1)
    noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    points = modes[torch.arange(1000) % 8] + 0.02 * noise
    return Dataset("ring8", "toy2d", points, points, None, None, None, "test-v1", modes, 0.02)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The folder with MNIST's t10k IDX files (the 10k test split), or a skip."""
    if any(find_idx(MNIST_ROOT, stem) is None for stem in TEST_FILES):
        pytest.skip(f"no MNIST t10k IDX files in {MNIST_ROOT.resolve()}")
    return MNIST_ROOT
