"""`digits`: scikit-learn's 8x8 handwritten digits, shipped with scikit-learn (no download).

1797 images with pixel values 0..16 and labels 0-9, from the UCI "Optical Recognition of
Handwritten Digits" data (Alpaydin & Kaynak, 1998), via `sklearn.datasets.load_digits`.
"""

from __future__ import annotations

import torch

from bench.config import DataConfig
from bench.data.base import Dataset, register
from bench.data.images import ImageSplits, image_dataset, split_source

TEST_FRACTION = 0.2


@register("digits", kind="image", capabilities={"images", "labels"}, image_size=8)
def digits(cfg: DataConfig) -> Dataset:
    """A fixed 80/20 split (permutation seed 0) of the 1797 digits."""
    from sklearn.datasets import load_digits  # imported here: it slows every start-up

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).to(torch.uint8).unsqueeze(1)
    labels = torch.from_numpy(bunch.target)
    train, test, train_labels, test_labels = split_source(images, labels, TEST_FRACTION)
    splits = ImageSplits(train, test, train_labels, test_labels, num_classes=10, max_value=16)
    return image_dataset("digits", splits, cfg.image_size)
