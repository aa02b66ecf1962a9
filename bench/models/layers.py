"""Layers that tricks insert into G or D: noise, dropout, virtual batch norm, minibatch features.

Every forward here is graph-capturable: fixed shapes, no host reads, no branching on values.
Random draws use torch's global RNG, which the loop seeds per job.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AlwaysOnDropout(nn.Module):
    """Dropout that stays active in eval mode, so it acts as G's noise source at sampling."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, training=True)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GaussianNoise(nn.Module):
    """Adds N(0, sigma^2) to its input while training; the identity in eval mode."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        return x + self.sigma * torch.randn_like(x)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class ReferenceBatch(nn.Module):
    """Prepends a fixed batch (a buffer) to every input; pairs with `DropReference`."""

    def __init__(self, reference: Tensor) -> None:
        super().__init__()
        self.register_buffer("reference", reference)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.reference.to(x.dtype), x])


class DropReference(nn.Module):
    """Removes the first `reference_size` rows that `ReferenceBatch` prepended."""

    def __init__(self, reference_size: int) -> None:
        super().__init__()
        self.reference_size = reference_size

    def forward(self, x: Tensor) -> Tensor:
        return x[self.reference_size :]


class VirtualBatchNorm2d(nn.Module):
    """Batch norm with the statistics of a fixed reference batch (Salimans et al. 2016).

    The first `reference_size` rows of the input are the reference batch (see
    `ReferenceBatch`); they are normalised with their own statistics. Every other example is
    normalised with the reference statistics mixed with its own, weight 1 / (R + 1), so its
    output does not depend on the rest of its minibatch. No running averages: training and
    evaluation compute the same function.
    """

    def __init__(self, num_features: int, reference_size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.reference_size = reference_size
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        reference, rest = x[: self.reference_size], x[self.reference_size :]
        ref_mean = reference.mean((0, 2, 3), keepdim=True)
        ref_square = reference.square().mean((0, 2, 3), keepdim=True)
        own = 1.0 / (self.reference_size + 1)
        mean = own * rest.mean((2, 3), keepdim=True) + (1 - own) * ref_mean
        square = own * rest.square().mean((2, 3), keepdim=True) + (1 - own) * ref_square
        normed = torch.cat(
            [
                self._normalise(reference, ref_mean, ref_square),
                self._normalise(rest, mean, square),
            ]
        )
        return normed * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def _normalise(self, x: Tensor, mean: Tensor, square: Tensor) -> Tensor:
        variance = (square - mean.square()).clamp(min=0.0)
        return (x - mean) * torch.rsqrt(variance + self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, reference_size={self.reference_size}"


def append_features(x: Tensor, features: Tensor) -> Tensor:
    """Concatenate per-example `features` [N, K] to `x`: as K constant maps if x is [N,C,H,W]."""
    if x.dim() == 4:
        features = features[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
    return torch.cat([x, features.to(x.dtype)], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Appends, per example, its closeness to the rest of the minibatch (Salimans et al. 2016).

    Features f(x_i) (flattened, A values) times a learned tensor T [A, B, C] give M_i [B, C];
    o(x_i)_b = sum over j != i of exp(-||M_i,b - M_j,b||_1). The B values o(x_i) are appended
    to the input (as constant feature maps for conv features).
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.empty(in_features, kernels * kernel_dim))
        nn.init.normal_(self.T, 0.0, 0.05)

    def forward(self, x: Tensor) -> Tensor:
        m = (x.flatten(1) @ self.T).view(-1, self.kernels, self.kernel_dim)
        distances = (m[:, None] - m[None, :]).abs().sum(-1)  # [N, N, B]
        closeness = torch.exp(-distances).sum(1) - 1.0  # drop j = i, where exp(0) = 1
        return append_features(x, closeness)

    def extra_repr(self) -> str:
        return f"in_features={self.T.shape[0]}, kernels={self.kernels}, dim={self.kernel_dim}"


class MinibatchStddev(nn.Module):
    """Appends one feature: the std over the minibatch, averaged over features and positions.

    Karras et al. (2018), "Progressive Growing of GANs", sec. 3: the whole minibatch is one
    group; the value is the same for every example and position.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        variance = x.var(dim=0, unbiased=False)
        stddev = torch.sqrt(variance + self.eps).mean()
        return append_features(x, stddev.expand(x.shape[0], 1))
