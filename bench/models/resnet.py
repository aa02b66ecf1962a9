"""SN-GAN style residual generator and discriminator for square images of 16 to 128 pixels.

Miyato et al. (2018), "Spectral Normalization for GANs", appendix B.4 (Table 4), after
Gulrajani et al. (2017), "Improved Training of Wasserstein GANs", appendix F:

* G: z -> dense -> 4x4 map -> one up-block per doubling (BN, ReLU, nearest x2, 3x3 conv,
  BN, ReLU, 3x3 conv; shortcut nearest x2 + 1x1 conv) -> BN, ReLU, 3x3 conv -> tanh.
* D: an "optimised" first down-block (3x3 conv, ReLU, 3x3 conv, 2x2 avg-pool; shortcut
  avg-pool + 1x1 conv), down-blocks to 8x8 (ReLU, conv, ReLU, conv, avg-pool), two blocks
  at 8x8 without resampling, ReLU, global sum pooling, a dense layer to one logit. No
  normalisation in D (spectral norm is a trick: `spectral_norm`).

At 32 px the widths are constant (`g_width` in G, `d_width` in D: 256 and 128 in the
paper's CIFAR-10 model). Larger images keep those widths at the finest resolutions and
double them at each halving below 1/8 (G) or 1/4 (D) of the image size, as Gulrajani et
al.'s 64-px ResNet widens its coarse layers. Init: Xavier-uniform, gain sqrt(2) in residual
branches and 1 elsewhere (the SN-GAN authors' Chainer code).

Both nets are named `nn.Sequential`s (`project`, `block0`..., `final_norm`, `final_act`,
`to_image`, `output` in G; `block0`..., `final_act`, `pool`, `to_logit` in D) so that the
module-surgery tricks that make sense on them apply; `REFUSED_TRICKS` names the others.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from torch import Tensor, nn

SUPPORTED_SIZES = (16, 32, 64, 128)

REFUSED_TRICKS = {
    "generator_upsampling": "resnet's G already upsamples by nearest-neighbour + conv",
    "discriminator_downsampling": "resnet's D already downsamples by conv + average pooling",
    "generator_kernel_size": "resnet's G has no transposed convolutions to resize",
    "fully_connected_ends": "resnet's G starts and D ends with a dense layer already",
    "batchnorm_everywhere": "resnet's D has no batch norm, so DCGAN's rule does not apply",
    "discriminator_norm": "resnet's D has no batch norm to replace (SN-GAN's D is unnormalised)",
    "relu_discriminator": "resnet's D already uses ReLU (Miyato et al. 2018)",
    "generator_dropout": "resnet's hidden layers sit inside residual blocks; it acts on DCGAN's",
    "generator_layer_noise": "resnet's hidden layers sit inside residual blocks; it acts on "
    "DCGAN's",
    "conditional_gan": "resnet's first D block has a shortcut beside its first conv, so labels "
    "cannot be joined to D's input; use projection_discriminator (native to resnet) or "
    "auxiliary_classifier",
    "packing": "resnet's first D block has a shortcut beside its first conv, so packed samples "
    "cannot be joined to D's input (PacGAN widens the first conv of a plain D)",
}


def _doublings(image_size: int) -> int:
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"ResNet image size must be one of {SUPPORTED_SIZES}, got {image_size}")
    return int(math.log2(image_size // 4))


def _width(base: int, resolution: int, full_width_at: int) -> int:
    """`base` at and above `full_width_at` px of resolution, doubled at each halving below it."""
    return base * max(1, full_width_at // resolution)


class GeneratorBlock(nn.Module):
    """Pre-activation residual block that doubles H and W (Gulrajani et al. 2017, app. F)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
        )
        self.shortcut = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 1, 1, 0),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.residual(x) + self.shortcut(x)


class DiscriminatorBlock(nn.Module):
    """Residual block of D, optionally halving H and W by 2x2 average pooling.

    `first`: Miyato et al.'s "optimised" block on the image itself (no leading ReLU,
    shortcut pooled before its 1x1 conv). Other blocks have a 1x1 shortcut conv only where
    the shape changes.
    """

    def __init__(self, in_channels: int, out_channels: int, down: bool, first: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [] if first else [nn.ReLU()]
        layers += [
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1),
        ]
        if down:
            layers.append(nn.AvgPool2d(2))
        self.residual = nn.Sequential(*layers)
        shortcut: list[nn.Module] = []
        if first:
            shortcut = [nn.AvgPool2d(2), nn.Conv2d(in_channels, out_channels, 1, 1, 0)]
        elif down or in_channels != out_channels:
            shortcut = [nn.Conv2d(in_channels, out_channels, 1, 1, 0)]
            shortcut += [nn.AvgPool2d(2)] if down else []
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x: Tensor) -> Tensor:
        return self.residual(x) + self.shortcut(x)


class SumPool(nn.Module):
    """Global sum pooling over H and W: [N, C, H, W] -> [N, C] (Miyato et al. 2018)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sum(dim=(2, 3))


class ResNetGenerator(nn.Sequential):
    """z [N, latent_dim] -> image [N, channels, size, size] in [-1, 1]."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int) -> None:
        n_up = _doublings(image_size)
        widths = [_width(width, 4 * 2**i, image_size // 8) for i in range(n_up + 1)]
        layers: dict[str, nn.Module] = {
            "project": nn.Sequential(
                nn.Flatten(), nn.Linear(latent_dim, widths[0] * 16), nn.Unflatten(1, (-1, 4, 4))
            )
        }
        for i in range(n_up):
            layers[f"block{i}"] = GeneratorBlock(widths[i], widths[i + 1])
        layers["final_norm"] = nn.BatchNorm2d(widths[-1])
        layers["final_act"] = nn.ReLU()
        layers["to_image"] = nn.Conv2d(widths[-1], channels, 3, 1, 1)
        layers["output"] = nn.Tanh()
        super().__init__(OrderedDict(layers))
        self.latent_dim = latent_dim

    def forward(self, z: Tensor) -> Tensor:
        return super().forward(z.view(z.shape[0], -1, 1, 1))


class ResNetDiscriminator(nn.Sequential):
    """image [N, channels, size, size] -> one logit per image [N]."""

    def __init__(self, channels: int, image_size: int, width: int) -> None:
        n_down = _doublings(image_size) - 1  # down to 8x8
        layers: dict[str, nn.Module] = {}
        in_channels, resolution = channels, image_size
        for i in range(n_down + 2):
            down = i < n_down
            out_channels = _width(width, resolution // 2 if down else resolution, image_size // 4)
            layers[f"block{i}"] = DiscriminatorBlock(in_channels, out_channels, down, i == 0)
            in_channels, resolution = out_channels, resolution // 2 if down else resolution
        layers["final_act"] = nn.ReLU()
        layers["pool"] = SumPool()
        layers["to_logit"] = nn.Linear(in_channels, 1)
        super().__init__(OrderedDict(layers))

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).flatten()


def resnet_init(net: nn.Module) -> None:
    """Xavier-uniform weights (gain sqrt(2) in residual branches, else 1), zero biases."""
    residual = {id(m) for block in net.modules() if hasattr(block, "residual")
                for m in block.residual.modules()}  # fmt: skip
    for layer in net.modules():
        if isinstance(layer, nn.Conv2d | nn.Linear):
            gain = math.sqrt(2.0) if id(layer) in residual else 1.0
            nn.init.xavier_uniform_(layer.weight, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
