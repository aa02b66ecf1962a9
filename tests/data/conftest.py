"""Fixtures for the dataset tests: an isolated download cache and tiny synthetic IDX files."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench.data import clear_dataset_cache
from bench.data.idx import TEST_FILES, TRAIN_FILES

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D}
WriteIdx = Callable[[Path, np.ndarray], Path]
WriteMnist = Callable[..., Path]


def write_idx_file(path: Path, array: np.ndarray) -> Path:
    """Write `array` as an IDX file, gzipped when the name ends in .gz."""
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path


@pytest.fixture(autouse=True)
def isolated_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test sees the user's download cache or a dataset another test loaded."""
    monkeypatch.setenv("GAN_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    clear_dataset_cache()
    yield
    clear_dataset_cache()


def digit_images(labels: np.ndarray) -> np.ndarray:
    """28x28 images whose constant value encodes the digit (10 + 20 * digit)."""
    return np.broadcast_to((10 + 20 * labels)[:, None, None], (len(labels), 28, 28)).astype("u1")


def write_mnist(folder: Path, train: int | None, test: int | None, gz: bool = True) -> Path:
    """Synthetic MNIST files (`train`/`test` images, None: leave that split out)."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for count, (images_stem, labels_stem), seed in ((train, TRAIN_FILES, 0), (test, TEST_FILES, 1)):
        if count is None:
            continue
        labels = np.random.default_rng(seed).integers(0, 10, count).astype("u1")
        write_idx_file(folder / f"{images_stem}{suffix}", digit_images(labels))
        write_idx_file(folder / f"{labels_stem}{suffix}", labels)
    return folder


@pytest.fixture
def write_idx() -> WriteIdx:
    return write_idx_file


@pytest.fixture
def make_mnist() -> WriteMnist:
    return write_mnist


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    """A folder with a 60-image train split and a 20-image test split of synthetic MNIST."""
    return write_mnist(tmp_path / "mnist", train=60, test=20)
