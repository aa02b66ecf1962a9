from pathlib import Path

import torch

from bench.config import DataConfig
from bench.data import clear_dataset_cache, load_dataset


def test_labels_name_the_digit_in_each_channel(mnist_root: Path) -> None:
    data = load_dataset(DataConfig(name="stacked_mnist", root=str(mnist_root)))
    assert data.train.shape == (60, 3, 32, 32) and data.test.shape == (20, 3, 32, 32)
    assert data.num_classes == 1000
    for images, labels in ((data.train, data.train_labels), (data.test, data.test_labels)):
        # each synthetic digit d is a constant image of value 10 + 20 d
        channel_digits = ((images.mean(dim=(2, 3)) + 1) * 127.5 - 10).div(20).round().long()
        expected = torch.stack([labels // 100, labels // 10 % 10, labels % 10], dim=1)
        assert torch.equal(channel_digits, expected)


def test_stacks_are_fixed_and_mix_digits(mnist_root: Path) -> None:
    cfg = DataConfig(name="stacked_mnist", root=str(mnist_root))
    first = load_dataset(cfg)
    clear_dataset_cache()
    second = load_dataset(cfg)
    assert torch.equal(first.train, second.train) and first.version == second.version
    assert len(set(first.train_labels.tolist())) > 30
    assert first.version.startswith("stacked-")
