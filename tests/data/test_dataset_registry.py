from pathlib import Path

import pytest
import torch

from bench.config import DataConfig
from bench.data import dataset_capabilities, default_image_size, load_dataset
from bench.errors import DataError


@pytest.mark.parametrize(
    ("name", "capabilities", "size"),
    [
        ("digits", {"images", "labels"}, 8),
        ("ring8", {"toy2d"}, None),
        ("grid25", {"toy2d"}, None),
        ("mnist", {"images", "labels"}, 32),
        ("fashion_mnist", {"images", "labels"}, 32),
        ("cifar10", {"images", "labels"}, 32),
        ("stacked_mnist", {"images", "labels"}, 32),
        ("folder", {"images"}, 64),
    ],
)
def test_capabilities_and_sizes_are_known_without_loading(
    name: str, capabilities: set[str], size: int | None
) -> None:
    assert dataset_capabilities(name) == capabilities
    assert default_image_size(name) == size


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match="known datasets: cifar10, digits"):
        dataset_capabilities("celeba")


def test_loads_are_cached_per_config() -> None:
    first = load_dataset(DataConfig(name="digits"))
    assert load_dataset(DataConfig(name="digits", image_size=8)) is first
    assert load_dataset(DataConfig(name="digits", image_size=16)) is not first


@pytest.mark.parametrize("size", [16, 32])
@pytest.mark.parametrize("name", ["digits", "mnist", "stacked_mnist"])
def test_image_size_resizes_every_split(name: str, size: int, mnist_root: Path) -> None:
    data = load_dataset(DataConfig(name=name, root=str(mnist_root), image_size=size))
    other = load_dataset(DataConfig(name=name, root=str(mnist_root), image_size=24))
    assert data.train.shape[1:] == data.test.shape[1:] == (data.shape[0], size, size)
    assert data.train.min() >= -1 and data.train.max() <= 1
    assert torch.equal(data.train_labels, other.train_labels)
    assert data.version != other.version
