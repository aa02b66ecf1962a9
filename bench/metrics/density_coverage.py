"""Density and coverage of generated samples in feature space (Naeem et al. 2020, "Reliable
Fidelity and Diversity Metrics for Generative Models").

Each real sample X_i gets the ball B(X_i, NND_k(X_i)) reaching its k-th nearest real neighbour.
Density is the mean number of balls a generated sample falls in, divided by k:
(1 / kM) sum_j sum_i 1[Y_j in B_i], about 1 when the two distributions agree and unbounded
above. Coverage is the fraction of real samples whose ball holds at least one generated sample.
k = 5, the paper's choice; "in a ball" is a distance strictly below its radius, as in the
authors' code (clovaai/generative-evaluation-prdc). Computed on the chosen backbone's features,
the layer precision/recall use (not VGG16 as in the paper): comparable across our jobs, not to
published numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor

NEAREST_K = 5  # the paper's recommended k
CHUNK = 1024  # rows of a distance block, to bound memory with 10k-sample sets


def density_coverage(generated: Tensor, reference: Tensor, k: int = NEAREST_K) -> dict[str, float]:
    """`density` and `coverage` of `generated` [M, D] against `reference` [N, D] (N > k)."""
    real, fake = reference.double(), generated.double()
    radii = torch.cat(
        [torch.cdist(part, real).kthvalue(k + 1).values for part in real.split(CHUNK)]
    )
    inside = 0
    covered = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    for part in fake.split(CHUNK):
        within = torch.cdist(real, part) < radii[:, None]
        inside += int(within.sum())
        covered |= within.any(dim=1)
    return {
        "density": inside / (k * len(fake)),
        "coverage": covered.double().mean().item(),
    }
