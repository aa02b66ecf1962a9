"""Class-conditional batch norm in G: per-class scales and shifts after a plain batch norm.

de Vries et al. (2017), "Modulating early visual processing by language", and Dumoulin et
al. (2017) (conditional instance norm); the generator conditioning of Miyato & Koyama (2018),
"cGANs with Projection Discriminator", and of SN-GAN's conditional ResNet. Used by
`projection_discriminator` with `generator = "batch_norm"`.
"""

from __future__ import annotations

from torch import Tensor, nn

from bench.errors import ConfigError
from bench.models.surgery import replace_modules


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d without affine terms, then gamma[y] * x + beta[y] (gamma 1, beta 0 at init).

    The labels of the batch are handed over by `BatchNormConditionedGenerator` for the
    duration of one forward pass.
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.scale = nn.Embedding(num_classes, num_features)
        self.shift = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)
        self.labels: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.labels is None:
            raise RuntimeError("ConditionalBatchNorm2d called without labels")
        scale = self.scale(self.labels)[:, :, None, None]
        shift = self.shift(self.labels)[:, :, None, None]
        return self.norm(x) * scale + shift


class BatchNormConditionedGenerator(nn.Module):
    """G(z, y): G with every batch norm made class-conditional; z enters G unchanged."""

    conditioning = frozenset({"labels"})

    def __init__(self, net: nn.Module, num_classes: int, trick: str) -> None:
        super().__init__()
        self.net = net
        count = replace_modules(
            net, nn.BatchNorm2d, lambda bn: ConditionalBatchNorm2d(bn.num_features, num_classes)
        )
        if not count:
            raise ConfigError(
                f"trick '{trick}' with generator = 'batch_norm' needs batch norm layers in G, "
                "and G has none (another trick replaced them)"
            )
        self.norms = [m for m in net.modules() if isinstance(m, ConditionalBatchNorm2d)]

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        for norm in self.norms:
            norm.labels = labels
        try:
            return self.net(z)
        finally:
            for norm in self.norms:
                norm.labels = None
