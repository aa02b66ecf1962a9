"""Every dataset the harness trains on, as in-memory tensors.

`load_dataset(cfg)` returns a `Dataset`: images [N,C,H,W] scaled to [-1,1] or 2-D points
[N,2], a train and a held-out test split, labels where the data has them, and a `version`
hash that metrics use as a cache key. `dataset_capabilities(name)` and
`default_image_size(name)` answer without loading anything.
"""

from bench.data import (  # noqa: F401  (each module registers its datasets)
    digits,
    folder,
    stacked_mnist,
    torchvision_sets,
    toy2d,
)
from bench.data.base import Dataset, dataset_capabilities, default_image_size
from bench.data.idx import read_idx
from bench.data.loading import clear_dataset_cache, load_dataset

__all__ = [
    "Dataset",
    "clear_dataset_cache",
    "dataset_capabilities",
    "default_image_size",
    "load_dataset",
    "read_idx",
]
