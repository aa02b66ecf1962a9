"""Discriminator and generator losses on D's logits.

Goodfellow et al. (2014), "Generative Adversarial Nets": D minimises binary cross-entropy
against its targets (1 for real, 0 for fake, or whatever the label tricks set). G minimises
either the original minimax objective log(1 - D(G(z))), whose gradient vanishes when D is
confident, or the non-saturating objective -log D(G(z)) that the paper recommends in practice.
Both are computed from logits (softplus) for numerical stability.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor


def discriminator_loss(
    real_logits: Tensor, fake_logits: Tensor, real_target: Tensor, fake_target: Tensor
) -> Tensor:
    """BCE of D on a real batch plus BCE on a fake batch (each averaged over its batch)."""
    real = F.binary_cross_entropy_with_logits(real_logits, real_target)
    fake = F.binary_cross_entropy_with_logits(fake_logits, fake_target)
    return real + fake


def generator_loss(fake_logits: Tensor, kind: Literal["non_saturating", "minimax"]) -> Tensor:
    """`non_saturating`: -log D(G(z)) = softplus(-l); `minimax`: log(1 - D(G(z))) = -softplus(l)."""
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()
