"""From raw pixels to model inputs: scaling to [-1,1], resizing, deterministic hold-out splits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.data.base import Dataset, default_image_size, fingerprint
from bench.errors import DataError


@dataclass(frozen=True)
class ImageSplits:
    """A source's images as stored: integer pixels [N,C,H,W] in 0..max_value, before scaling.

    `note` says how the split was made when it is not the source's own (e.g. "t10k-80-20"); it
    becomes part of the dataset version.
    """

    train: Tensor
    test: Tensor
    train_labels: Tensor | None
    test_labels: Tensor | None
    num_classes: int | None
    max_value: int = 255
    note: str = ""


def to_model_range(pixels: Tensor, max_value: int) -> Tensor:
    """Integer pixels in 0..max_value -> float32 in [-1, 1] (the tanh output range)."""
    return pixels.to(torch.float32).mul_(2.0 / max_value).sub_(1.0)


def resize(images: Tensor, size: int) -> Tensor:
    """Square-resize float images [N,C,H,W] with antialiased bilinear interpolation."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(
        images, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )


def holdout(n: int, test_fraction: float, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Indices of a fixed random train/test partition of `n` items (both parts non-empty)."""
    if n < 2:
        raise DataError(f"cannot split {n} item(s) into train and test; need at least 2")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = min(max(1, round(n * test_fraction)), n - 1)
    return order[n_test:], order[:n_test]


def split_source(
    images: Tensor, labels: Tensor | None, test_fraction: float, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Split one set of images (and labels) into train and test with `holdout`."""
    train, test = holdout(len(images), test_fraction, seed)
    if labels is None:
        return images[train], images[test], None, None
    return images[train], images[test], labels[train], labels[test]


def image_dataset(name: str, splits: ImageSplits, size: int | None) -> Dataset:
    """Scale, resize (None: the dataset's default size) and fingerprint `splits`."""
    size = size or default_image_size(name) or splits.train.shape[-1]
    recipe = {"name": name, "size": size, "note": splits.note, "max_value": splits.max_value}
    version = fingerprint(
        recipe, splits.train, splits.test, splits.train_labels, splits.test_labels
    )
    return Dataset(
        name=name,
        kind="image",
        train=resize(to_model_range(splits.train, splits.max_value), size),
        test=resize(to_model_range(splits.test, splits.max_value), size),
        train_labels=_int64(splits.train_labels),
        test_labels=_int64(splits.test_labels),
        num_classes=splits.num_classes,
        version=f"{splits.note}-{version}" if splits.note else version,
    )


def _int64(labels: Tensor | None) -> Tensor | None:
    return None if labels is None else labels.to(torch.int64)
