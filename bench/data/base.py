"""The `Dataset` every job trains on, and the registry of datasets by name.

A dataset module registers a loader with `@register(...)`, declaring what the dataset provides
(`capabilities`) and its native image size, so suites can be validated before anything loads
(`bench.data.loading` loads them and checks them against these declarations).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from torch import Tensor

from bench.config import DataConfig
from bench.errors import DataError
from bench.plugins import BUILTIN, Origin, clash, current_origin, load_entry_points

Kind = Literal["image", "toy2d"]
Split = Literal["train", "test"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset as in-memory tensors: images [N,C,H,W] in [-1,1], or 2-D points [N,2].

    Loaded datasets are cached per process and shared between jobs: treat tensors as read-only.
    """

    name: str
    kind: Kind
    train: Tensor
    test: Tensor
    train_labels: Tensor | None
    test_labels: Tensor | None
    num_classes: int | None
    version: str
    modes: Tensor | None = None
    mode_std: float | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample: (C, H, W) or (2,)."""
        return tuple(self.train.shape[1:])

    @property
    def capabilities(self) -> frozenset[str]:
        """What tricks and metrics may rely on: "images" or "toy2d", and "labels"."""
        kind = "images" if self.kind == "image" else "toy2d"
        return frozenset({kind, "labels"} if self.train_labels is not None else {kind})

    def split(self, name: Split) -> Tensor:
        return {"train": self.train, "test": self.test}[_check_split(name)]

    def split_labels(self, name: Split) -> Tensor | None:
        return {"train": self.train_labels, "test": self.test_labels}[_check_split(name)]


def _check_split(name: str) -> str:
    if name not in ("train", "test"):
        raise DataError(f"unknown split '{name}'; allowed: train, test")
    return name


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its loader and what is known about it without loading it.

    `probe`, where given, reads the capabilities that depend on the files at `data.root`
    (e.g. whether an image folder has class subfolders) without decoding any data.
    """

    load: Callable[[DataConfig], Dataset]
    kind: Kind
    capabilities: frozenset[str]
    image_size: int | None
    probe: Callable[[str], frozenset[str]] | None = None
    origin: Origin = BUILTIN
    name: str = ""
    params: type[BaseModel] | None = None

    def describe(self) -> str:
        """`dataset 'NAME'`, with the plugin it comes from."""
        return f"dataset '{self.name}'" + (
            "" if self.origin.builtin else f" ({self.origin.describe()})"
        )


REGISTRY: dict[str, DatasetSpec] = {}


def register(
    name: str,
    kind: Kind,
    capabilities: set[str],
    image_size: int | None = None,
    probe: Callable[[str], frozenset[str]] | None = None,
    params: type[BaseModel] | None = None,
) -> Callable[[Callable[[DataConfig], Dataset]], Callable[[DataConfig], Dataset]]:
    """Decorator: make `load(cfg) -> Dataset` available as `data.name = NAME`.

    `params`: the pydantic model of the suite's `data.params` table; the loader finds them,
    validated and with defaults filled, in `cfg.params` (without it they arrive unchecked).
    """

    def decorate(load: Callable[[DataConfig], Dataset]) -> Callable[[DataConfig], Dataset]:
        origin = current_origin()
        if name in REGISTRY:
            raise clash("dataset", name, REGISTRY[name].origin, origin)
        spec = DatasetSpec(
            load, kind, frozenset(capabilities), image_size, probe, origin, name, params
        )
        REGISTRY[name] = spec
        return load

    return decorate


def dataset_spec(name: str) -> DatasetSpec:
    """The registered dataset `name`: built-in, installed plugin or suite-named plugin."""
    load_entry_points("datasets")
    if name not in REGISTRY:
        raise DataError(f"unknown dataset '{name}'; known datasets: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def dataset_capabilities(name: str, root: str | None = None) -> frozenset[str]:
    """What dataset `name` provides, without loading it ("images"/"toy2d", "labels").

    With `root`, datasets whose labels depend on the files (an image folder) look at the
    folder layout; without it they report only what every such dataset provides.
    """
    spec = dataset_spec(name)
    if spec.probe is not None and root is not None:
        return spec.probe(root)
    return spec.capabilities


def default_image_size(name: str) -> int | None:
    """The image size (px) used when `data.image_size` is unset; None for 2-D toys."""
    return dataset_spec(name).image_size


def fingerprint(recipe: Mapping[str, Any], *tensors: Tensor | None) -> str:
    """A short hash of a recipe (sizes, split, seeds) and the data it was applied to."""
    digest = hashlib.blake2b(json.dumps(recipe, sort_keys=True).encode(), digest_size=6)
    for tensor in tensors:
        if tensor is not None:
            digest.update(str(tuple(tensor.shape)).encode())
            digest.update(tensor.detach().cpu().contiguous().numpy())
    return digest.hexdigest()
