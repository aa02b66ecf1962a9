"""`stacked_mnist`: three MNIST digits stacked as RGB channels, 1000 modes (10^3 digit triples).

The mode-collapse benchmark of Metz et al., "Unrolled Generative Adversarial Networks"
(ICLR 2017), also used by VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018).
Each sample takes three random images (with replacement) from one MNIST split; its label is
100*d0 + 10*d1 + d2 for the digits in channels 0, 1, 2. The train set has as many samples as
the source's train split, the test set as its test split; indices come from fixed seeds.
The MNIST files are found as for `mnist` (`data.root`, `data.download`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.config import DataConfig
from bench.data.base import Dataset, register
from bench.data.images import ImageSplits, image_dataset
from bench.data.torchvision_sets import mnist_splits

TRAIN_SEED, TEST_SEED = 0, 1


def stack_digits(images: Tensor, labels: Tensor, seed: int) -> tuple[Tensor, Tensor]:
    """As many stacked samples as `images` [N,1,H,W]: images [N,3,H,W] and labels in 0..999."""
    picks = torch.randint(
        len(images), (len(images), 3), generator=torch.Generator().manual_seed(seed)
    )
    stacked = images[picks].squeeze(2)
    digits = labels[picks]
    return stacked, 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]


@register("stacked_mnist", kind="image", capabilities={"images", "labels"}, image_size=32)
def stacked_mnist(cfg: DataConfig) -> Dataset:
    source = mnist_splits(cfg, "mnist")
    train, train_labels = stack_digits(source.train, source.train_labels, TRAIN_SEED)
    test, test_labels = stack_digits(source.test, source.test_labels, TEST_SEED)
    note = "-".join(filter(None, ["stacked", source.note]))
    splits = ImageSplits(train, test, train_labels, test_labels, num_classes=1000, note=note)
    return image_dataset("stacked_mnist", splits, cfg.image_size)
