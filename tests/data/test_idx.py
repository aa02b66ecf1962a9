from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data import read_idx
from bench.errors import DataError


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_uint8_images_round_trip_raw_and_gzipped(tmp_path: Path, write_idx, name: str) -> None:
    array = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    read = read_idx(write_idx(tmp_path / name, array))
    assert read.dtype == torch.uint8
    assert torch.equal(read, torch.from_numpy(array))


def test_gzip_is_detected_from_content_not_name(tmp_path: Path, write_idx) -> None:
    labels = np.arange(10, dtype=np.uint8)
    path = write_idx(tmp_path / "labels.gz", labels).rename(tmp_path / "labels-idx1-ubyte")
    assert read_idx(path).tolist() == list(range(10))


def test_big_endian_wider_types_are_read_in_native_order(tmp_path: Path, write_idx) -> None:
    ints = np.array([[1, -2], [70_000, 3]], dtype=np.int32)
    floats = np.array([0.5, -1.25], dtype=np.float32)
    assert read_idx(write_idx(tmp_path / "ints", ints)).tolist() == ints.tolist()
    assert read_idx(write_idx(tmp_path / "floats", floats)).tolist() == floats.tolist()


def test_bad_magic_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "not-idx"
    path.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


def test_truncated_file_is_a_data_error(tmp_path: Path, write_idx) -> None:
    path = write_idx(tmp_path / "short", np.zeros((4, 3, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)
