"""Load a dataset by its config, once per process, and check it against what it declares.

A loader is code (a plugin's, often), so what it returns is checked before anything trains on
it: a `Dataset` of the registered kind; images [N, C, H, W] of the requested size, float,
finite, in [-1, 1]; 2-D points [N, D]; the same sample shape in both splits; one integer label
in 0..num_classes-1 per sample where there are labels, and labels wherever the dataset
declares them. A loader that raises, or data that breaks one of these, is a `DataError`
naming the dataset and the plugin it comes from, so the blame never lands on the model that
would have crashed on it later.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json

import torch
from torch import Tensor

from bench.config import DataConfig
from bench.data.base import Dataset, DatasetSpec, dataset_spec
from bench.errors import DataError

RANGE_TOLERANCE = 1e-4  # resizing float images may overshoot [-1, 1] by rounding
SPLITS = {"train": "training", "test": "test"}  # as messages name them


def load_dataset(cfg: DataConfig) -> Dataset:
    """Load (or reuse, within this process) the dataset `cfg` describes, checked.

    Raises `DataError` with a one-line message: which key to set when the data cannot be
    found, read or downloaded; what is wrong when a loader fails or returns malformed data.
    """
    return _load_cached(canonical_config(cfg))


def canonical_config(cfg: DataConfig) -> DataConfig:
    """`cfg` with the image size resolved and the keys the dataset ignores reset.

    Configs that describe the same data compare equal, so they share one cache entry.
    """
    spec = dataset_spec(cfg.name)
    cfg = cfg.model_copy(update={"train_fraction": 1.0})  # applied by the job, not the loader
    if spec.kind == "toy2d":
        return cfg.model_copy(update={"root": None, "image_size": None, "download": False})
    toy_default = DataConfig.model_fields["toy_samples"].default
    size = cfg.image_size or spec.image_size
    return cfg.model_copy(update={"image_size": size, "toy_samples": toy_default})


@functools.lru_cache(maxsize=8)
def _load_cached(cfg: DataConfig) -> Dataset:
    spec = dataset_spec(cfg.name)
    dataset = _run_loader(spec, cfg)
    problem = dataset_problem(dataset, spec, cfg)
    if problem:
        raise DataError(f"{spec.describe()}: {problem}")
    if cfg.params:  # metrics are cached by version: other params, other version
        digest = hashlib.blake2b(json.dumps(cfg.params, sort_keys=True).encode(), digest_size=4)
        dataset = dataclasses.replace(dataset, version=f"{dataset.version}-p{digest.hexdigest()}")
    return dataset


def clear_dataset_cache() -> None:
    """Forget every dataset loaded in this process (frees memory; the next load rereads)."""
    _load_cached.cache_clear()


def _run_loader(spec: DatasetSpec, cfg: DataConfig) -> object:
    """The loader's return value; a plugin loader's failure is a `DataError` naming it."""
    if spec.origin.builtin:
        return spec.load(cfg)  # built-in loaders raise DataError for what a user can fix
    try:
        return spec.load(cfg)
    except DataError as err:
        raise DataError(f"{spec.describe()}: {err}") from None
    except Exception as err:  # a plugin's code may raise anything: name it, don't crash
        raise DataError(
            f"{spec.describe()}: the loader failed: {type(err).__name__}: {err}"
        ) from None


def dataset_problem(dataset: object, spec: DatasetSpec, cfg: DataConfig) -> str | None:
    """What is wrong with a loader's return value for `cfg`, in one phrase; None if nothing."""
    if not isinstance(dataset, Dataset):
        return f"the loader returned {type(dataset).__name__}, not a Dataset"
    if dataset.kind != spec.kind:
        return f"registered as kind '{spec.kind}', but the loader returned '{dataset.kind}' data"
    for split, named in SPLITS.items():
        problem = samples_problem(named, dataset.split(split), spec.kind, cfg.image_size)
        if problem:
            return problem
    if dataset.test.shape[1:] != dataset.train.shape[1:]:
        return (
            f"test samples have shape {tuple(dataset.test.shape[1:])}, training samples "
            f"{tuple(dataset.train.shape[1:])}; both splits need one sample shape"
        )
    return labels_problem(dataset, declared_labels(spec, cfg))


def samples_problem(split: str, samples: object, kind: str, size: int | None) -> str | None:
    """What is wrong with one split's samples: type, shape, size, dtype, values."""
    what = "images" if kind == "image" else "points"
    if not isinstance(samples, Tensor):
        return f"the {split} samples are a {type(samples).__name__}, not a tensor"
    shape = tuple(samples.shape)
    if kind == "image" and samples.ndim != 4:
        return (
            f"{split} images have shape {shape}; expected [N, C, H, W] (grayscale images "
            "need their channel dimension: [N, 1, H, W])"
        )
    if kind != "image" and samples.ndim != 2:
        return f"{split} points have shape {shape}; expected [N, D]"
    if not len(samples):
        return f"there are no {split} samples"
    if kind == "image" and size is not None and shape[-2:] != (size, size):
        return (
            f"{split} images are {shape[-2]}x{shape[-1]} px; expected {size}x{size} "
            "(data.image_size, else the image_size the dataset is registered with): resize "
            "them to cfg.image_size (image_dataset does)"
        )
    if not samples.is_floating_point():
        return f"{split} {what} are {samples.dtype}; expected floats"
    if not bool(torch.isfinite(samples).all()):
        return f"{split} {what} include NaN or infinite values"
    low, high = (float(v) for v in torch.aminmax(samples))
    if kind == "image" and (low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE):
        return (
            f"{split} pixel values span [{low:g}, {high:g}]; images must be in [-1, 1] "
            "(image_dataset scales integer pixels)"
        )
    return None


def declared_labels(spec: DatasetSpec, cfg: DataConfig) -> bool:
    """Whether the dataset declares class labels (for these files, where it probes them)."""
    if spec.probe is not None and cfg.root is not None:
        return "labels" in spec.probe(cfg.root)
    return "labels" in spec.capabilities


def labels_problem(dataset: Dataset, declared: bool) -> str | None:
    """What is wrong with the labels: missing where declared, or not one class per sample."""
    pairs = {"training": dataset.train_labels, "test": dataset.test_labels}
    given = [split for split, labels in pairs.items() if labels is not None]
    if not given:
        return "it declares class labels, but the loader returned none" if declared else None
    if len(given) == 1:
        return f"it has labels for the {given[0]} split only; give both splits labels, or none"
    classes = dataset.num_classes
    if not isinstance(classes, int) or classes < 1:
        return f"it has labels, but num_classes is {classes!r}; expected the number of classes"
    for (split, labels), samples in zip(pairs.items(), (dataset.train, dataset.test), strict=True):
        count = len(samples)
        if not isinstance(labels, Tensor) or labels.ndim != 1 or labels.is_floating_point():
            got = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
            return f"{split} labels are {got}; expected one integer class per sample"
        if len(labels) != count:
            return (
                f"{len(labels)} {split} labels for {count} {split} samples; expected one label "
                "per sample"
            )
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            return f"a {split} label is {bad}, outside 0..{classes - 1} (num_classes = {classes})"
    return None
