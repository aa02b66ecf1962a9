import torch
from sklearn.datasets import load_digits

from bench.config import DataConfig
from bench.data import clear_dataset_cache, load_dataset


def test_digits_shapes_range_and_labels() -> None:
    data = load_dataset(DataConfig(name="digits"))
    assert data.train.shape == (1438, 1, 8, 8) and data.test.shape == (359, 1, 8, 8)
    assert data.shape == (1, 8, 8) and data.train.dtype == torch.float32
    assert data.train.min() == -1 and data.train.max() == 1
    assert data.train_labels.dtype == torch.int64
    assert set(data.train_labels.tolist()) == set(range(10))
    assert data.num_classes == 10 and data.capabilities == {"images", "labels"}


def test_digits_train_and_test_partition_the_original_images() -> None:
    data = load_dataset(DataConfig(name="digits"))
    original = torch.from_numpy(load_digits().images).float().div(8).sub(1).flatten(1)
    both = torch.cat([data.train, data.test]).flatten(1)
    assert torch.equal(_sorted_rows(both), _sorted_rows(original))


def test_digits_split_is_the_same_on_every_load() -> None:
    first = load_dataset(DataConfig(name="digits"))
    clear_dataset_cache()
    second = load_dataset(DataConfig(name="digits"))
    assert first is not second
    assert torch.equal(first.train, second.train) and torch.equal(
        first.test_labels, second.test_labels
    )
    assert first.version == second.version


def test_split_accessors() -> None:
    data = load_dataset(DataConfig(name="digits"))
    assert data.split("test") is data.test and data.split_labels("train") is data.train_labels


def _sorted_rows(rows: torch.Tensor) -> torch.Tensor:
    """Rows in lexicographic order, so two collections compare as multisets."""
    for column in reversed(range(rows.shape[1])):
        rows = rows[rows[:, column].argsort(stable=True)]
    return rows
