"""The part of the training split a GAN trains on: `data.train_fraction` for limited-data studies.

Only the GAN's training data shrinks; the test split, the reference statistics and the
domain backbone stay those of the full dataset, so scores stay comparable across fractions.
The subset is fixed (permutation seed 0, the same for every job) and stratified by class
where the data has labels, so 10% of the digits is 10% of each digit.
"""

from __future__ import annotations

import torch
from torch import Tensor

SUBSET_SEED = 0


def training_subset(
    images: Tensor, labels: Tensor | None, fraction: float
) -> tuple[Tensor, Tensor | None]:
    """The first `fraction` of each class (or of all samples) in a fixed random order."""
    if fraction >= 1.0:
        return images, labels
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SUBSET_SEED))
    groups = [order] if labels is None else [order[labels[order] == c] for c in labels.unique()]
    keep = torch.cat([group[: max(1, round(len(group) * fraction))] for group in groups])
    keep = keep.sort().values.to(images.device)
    return images[keep], None if labels is None else labels[keep]
