"""`bars`: 8x8 images of one horizontal or vertical bar (Foldiak 1990's bars problem)."""

from __future__ import annotations

import torch

from bench.extend import (
    DataConfig,
    Dataset,
    ImageSplits,
    image_dataset,
    register_dataset,
    split_source,
)

SIZE = 8
COUNT = 2000
TEST_FRACTION = 0.2


def bar_images(count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` uint8 images [N, 1, 8, 8] and their classes: 0-7 rows, 8-15 columns."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2 * SIZE, (count,), generator=generator)
    images = torch.zeros(count, 1, SIZE, SIZE, dtype=torch.uint8)
    index = torch.arange(count)
    rows, columns = labels < SIZE, labels >= SIZE
    images[index[rows], 0, labels[rows], :] = 255
    images[index[columns], 0, :, labels[columns] - SIZE] = 255
    return images, labels


@register_dataset("bars", kind="image", capabilities={"images", "labels"}, image_size=SIZE)
def bars(cfg: DataConfig) -> Dataset:
    """2000 seeded bar images (16 classes), split 80/20."""
    images, labels = bar_images(COUNT)
    train, test, train_labels, test_labels = split_source(images, labels, TEST_FRACTION)
    splits = ImageSplits(train, test, train_labels, test_labels, num_classes=2 * SIZE)
    return image_dataset("bars", splits, cfg.image_size)
