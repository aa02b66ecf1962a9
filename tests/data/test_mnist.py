from pathlib import Path

import pytest
import torch

from bench.config import DataConfig
from bench.data import load_dataset
from bench.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_MNIST = REPO_ROOT / "../shared/data/mnist"


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="no shared MNIST t10k files")
def test_shared_t10k_files_are_split_80_20() -> None:
    data = load_dataset(DataConfig(name="mnist", root=str(SHARED_MNIST)))
    assert data.train.shape == (8000, 1, 32, 32) and data.test.shape == (2000, 1, 32, 32)
    assert data.train.min() >= -1 and data.train.max() <= 1
    assert data.num_classes == 10 and set(data.test_labels.tolist()) == set(range(10))
    assert data.version.startswith("t10k-80-20-")


def test_both_splits_are_used_as_they_are(mnist_root: Path) -> None:
    data = load_dataset(DataConfig(name="mnist", root=str(mnist_root)))
    assert len(data.train) == 60 and len(data.test) == 20
    assert data.shape == (1, 32, 32) and "-" not in data.version


@pytest.mark.parametrize("gz", [True, False])
def test_a_lone_split_is_divided_deterministically(tmp_path: Path, make_mnist, gz: bool) -> None:
    root = make_mnist(tmp_path / "only-train", train=50, test=None, gz=gz)
    data = load_dataset(DataConfig(name="mnist", root=str(root)))
    assert len(data.train) == 40 and len(data.test) == 10
    assert data.version.startswith("train-80-20-")


def test_fashion_mnist_reads_torchvisions_layout(tmp_path: Path, make_mnist) -> None:
    make_mnist(tmp_path / "FashionMNIST" / "raw", train=30, test=10)
    data = load_dataset(DataConfig(name="fashion_mnist", root=str(tmp_path), image_size=28))
    assert data.train.shape == (30, 1, 28, 28) and data.name == "fashion_mnist"


def test_pixel_values_are_scaled_to_minus_one_one(mnist_root: Path) -> None:
    data = load_dataset(DataConfig(name="mnist", root=str(mnist_root), image_size=28))
    expected = (10 + 20 * data.train_labels).float() / 127.5 - 1
    assert torch.allclose(data.train[:, 0, 0, 0], expected)


@pytest.mark.parametrize("root", [None, "does/not/exist"])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "stacked_mnist", "cifar10"])
def test_missing_files_say_which_key_to_set(name: str, root: str | None) -> None:
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(name=name, root=root))
    message = str(info.value)
    assert "\n" not in message
    assert "data.root" in message and "--set data.download=true" in message
