"""Reading IDX files (the MNIST / Fashion-MNIST format), gzipped or raw.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/): two zero bytes, a type code, the
number of dimensions, then each dimension as a big-endian uint32, then the data, row-major.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bench.data.images import ImageSplits, split_source
from bench.errors import DataError

IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
EXPECTED_FILES = (
    "train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] "
    "and/or t10k-images-idx3-ubyte[.gz] + t10k-labels-idx1-ubyte[.gz]"
)
ONE_SPLIT_TEST_FRACTION = 0.2


def read_idx(path: Path) -> Tensor:
    """The array stored in an IDX file (gzip detected from its magic bytes, not its name)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{path}: not a readable gzip file ({err})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(
            f"{path}: IDX header promises shape {shape} ({expected} bytes) "
            f"but the file holds {len(raw)} bytes; is it truncated?"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


def find_idx(folder: Path, stem: str) -> Path | None:
    """`folder/stem` or `folder/stem.gz`, whichever exists (raw first)."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_pair(folder: Path, stems: tuple[str, str]) -> tuple[Tensor, Tensor] | None:
    """Images [N,1,H,W] uint8 and labels [N] from an images/labels file pair, if both exist."""
    paths = [find_idx(folder, stem) for stem in stems]
    if paths[0] is None or paths[1] is None:
        return None
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.dim() != 3 or images.dtype != torch.uint8:
        shown = f"{images.dtype} {list(images.shape)}"
        raise DataError(f"{paths[0]}: expected uint8 images [N,H,W], got {shown}")
    if labels.shape != images.shape[:1]:
        raise DataError(
            f"{paths[1]}: {len(labels)} labels for {len(images)} images in {paths[0].name}"
        )
    return images.unsqueeze(1), labels.to(torch.int64)


def read_mnist_folder(folder: Path) -> ImageSplits | None:
    """MNIST-format train/test splits from the standard IDX files in `folder`.

    When only one split's files are present (e.g. just the 10k t10k set), that split is
    divided 80/20 with a fixed permutation and the split's `note` records it. None when
    neither split is there.
    """
    train, test = read_pair(folder, TRAIN_FILES), read_pair(folder, TEST_FILES)
    if train is not None and test is not None:
        return ImageSplits(train[0], test[0], train[1], test[1], num_classes=10)
    present, prefix = (train, "train") if train is not None else (test, "t10k")
    if present is None:
        return None
    parts = split_source(*present, ONE_SPLIT_TEST_FRACTION)
    return ImageSplits(*parts, num_classes=10, note=f"{prefix}-80-20")
