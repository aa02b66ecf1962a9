"""`mnist`, `fashion_mnist`, `cifar10`: files at `data.root`, or downloaded by torchvision.

MNIST (LeCun et al., 1998) and Fashion-MNIST (Xiao et al., 2017) are read from IDX files with
our own reader, so a folder holding only some of the files still works; torchvision only
downloads them. CIFAR-10 (Krizhevsky, 2009) is read by `torchvision.datasets.CIFAR10`.
Nothing is downloaded unless `data.download = true`. torchvision is imported only when used:
it adds seconds to every start-up.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from bench.config import DataConfig
from bench.data.base import Dataset, register
from bench.data.idx import EXPECTED_FILES, read_mnist_folder
from bench.data.images import ImageSplits, image_dataset
from bench.errors import DataError

MNIST_SOURCES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}  # torchvision class names
HOW_TO_PROVIDE = "--set data.root=PATH to use local files, or --set data.download=true to download"


def default_data_root() -> Path:
    """Where downloads go when `data.root` is unset: `$GAN_BENCH_CACHE/data`.

    `GAN_BENCH_CACHE` defaults to `~/.cache/gan-bench`, as for the metrics cache.
    """
    return Path(os.environ.get("GAN_BENCH_CACHE") or Path.home() / ".cache" / "gan-bench") / "data"


def data_root(cfg: DataConfig) -> Path:
    return Path(cfg.root).expanduser() if cfg.root else default_data_root()


def describe_root(cfg: DataConfig) -> str:
    """How a message names the folder searched, e.g. "data.root='/data/mnist'"."""
    if cfg.root:
        return f"data.root='{cfg.root}'"
    return f"{default_data_root()} (the download cache, as data.root is unset)"


def mnist_splits(cfg: DataConfig, source: str) -> ImageSplits:
    """The MNIST-format `source` ("mnist" or "fashion_mnist") for `cfg`.

    Looks in `root/<MNIST|FashionMNIST>/raw` (torchvision's layout), then in `root` itself.
    Both splits found: used as they are. Otherwise, with `data.download`, torchvision
    downloads the full set; without it, a single split found is divided 80/20.
    """
    root, class_name = data_root(cfg), MNIST_SOURCES[source]
    folders = (root / class_name / "raw", root)
    partial = None
    for folder in folders:
        found = read_mnist_folder(folder)
        if found is not None and not found.note:
            return found
        partial = partial or found
    if cfg.download:
        from torchvision import datasets

        try:
            getattr(datasets, class_name)(root, train=True, download=True)
        except (RuntimeError, OSError) as err:
            raise DataError(_download_failed(source, root, err)) from None
        partial = read_mnist_folder(folders[0])
    if partial is None:
        raise DataError(
            f"dataset '{source}': no IDX files in {describe_root(cfg)}; expected "
            f"{EXPECTED_FILES}; use {HOW_TO_PROVIDE}"
        )
    return partial


def _download_failed(source: str, root: Path, err: Exception) -> str:
    reason = " ".join(str(err).split())[:300] or type(err).__name__
    return (
        f"dataset '{source}': download into {root} failed ({reason}); download the files "
        "on a machine that is online and use --set data.root=PATH"
    )


@register("mnist", kind="image", capabilities={"images", "labels"}, image_size=32)
def mnist(cfg: DataConfig) -> Dataset:
    return image_dataset("mnist", mnist_splits(cfg, "mnist"), cfg.image_size)


@register("fashion_mnist", kind="image", capabilities={"images", "labels"}, image_size=32)
def fashion_mnist(cfg: DataConfig) -> Dataset:
    return image_dataset("fashion_mnist", mnist_splits(cfg, "fashion_mnist"), cfg.image_size)


@register("cifar10", kind="image", capabilities={"images", "labels"}, image_size=32)
def cifar10(cfg: DataConfig) -> Dataset:
    """The 50k/10k CIFAR-10 split, from `root/cifar-10-batches-py`."""
    from torchvision import datasets

    root = data_root(cfg)
    try:
        train = datasets.CIFAR10(root, train=True, download=cfg.download)
        test = datasets.CIFAR10(root, train=False)
    except (RuntimeError, OSError) as err:
        if cfg.download:
            raise DataError(_download_failed("cifar10", root, err)) from None
        raise DataError(
            f"dataset 'cifar10': no CIFAR-10 in {describe_root(cfg)}; expected "
            f"cifar-10-batches-py/ (from cifar-10-python.tar.gz); use {HOW_TO_PROVIDE}"
        ) from None
    splits = ImageSplits(
        train=torch.from_numpy(train.data).permute(0, 3, 1, 2),
        test=torch.from_numpy(test.data).permute(0, 3, 1, 2),
        train_labels=torch.tensor(train.targets),
        test_labels=torch.tensor(test.targets),
        num_classes=10,
    )
    return image_dataset("cifar10", splits, cfg.image_size)
