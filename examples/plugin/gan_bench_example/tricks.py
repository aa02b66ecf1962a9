"""`orthogonal_regularization`: keep G's weight rows near-orthogonal (BigGAN)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from bench.extend import LossTerms, TrainContext, Trick, TrickParams, register_trick


class OrthogonalParams(TrickParams):
    beta: float = Field(1e-4, ge=0.0, le=1.0, description="weight of the penalty (BigGAN: 1e-4)")


def off_diagonal_gram(weight: Tensor) -> Tensor:
    """||W W^T * (1 - I)||_F^2 of a weight flattened to one row per output unit."""
    rows = weight.flatten(1)
    gram = rows @ rows.T
    return (gram * (1 - torch.eye(len(gram), device=gram.device))).square().sum()


@register_trick
class OrthogonalRegularization(Trick):
    """Add beta * ||W W^T * (1 - I)||_F^2 over G's weight matrices to G's loss.

    Brock et al. (2019), "Large Scale GAN Training for High Fidelity Natural Image Synthesis"
    (BigGAN), sec. 3.1, eq. 3: the relaxed orthogonal regularization that leaves the norms of
    the filters free and penalises only their pairwise cosines' scale, beta = 1e-4.
    """

    name = "orthogonal_regularization"
    family = "regularization"
    citation = "Brock et al. 2019, BigGAN, sec. 3.1 eq. 3"
    Params = OrthogonalParams

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        weights = [p for p in terms.generator.parameters() if p.ndim >= 2]
        return loss + self.params.beta * sum(off_diagonal_gram(w) for w in weights)
