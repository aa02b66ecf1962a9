"""DCGAN generator and discriminator for square images of 8 to 128 pixels.

Radford, Metz & Chintala (2016), "Unsupervised Representation Learning with Deep
Convolutional GANs": strided (transposed) convolutions instead of pooling, batch norm in every
layer except G's output and D's input, ReLU in G with a tanh output, LeakyReLU(0.2) in D.

Both networks are plain `nn.Sequential`s of named layers so that tricks can rewrite them
(swap norms, activations, up/downsampling) by module surgery, without a flag in this file.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from torch import Tensor, nn

SUPPORTED_SIZES = (8, 16, 32, 64, 128)


def _num_resamplings(image_size: int) -> int:
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"DCGAN image size must be one of {SUPPORTED_SIZES}, got {image_size}")
    return int(math.log2(image_size // 4))


class DCGANGenerator(nn.Sequential):
    """z [N, latent_dim] -> image [N, channels, size, size] in [-1, 1]."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int) -> None:
        n_up = _num_resamplings(image_size)
        widths = [width * 2 ** (n_up - 1 - i) for i in range(n_up)]
        layers: dict[str, nn.Module] = {
            "project": nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),
            "project_norm": nn.BatchNorm2d(widths[0]),
            "project_act": nn.ReLU(),
        }
        for i in range(n_up - 1):
            layers[f"up{i}"] = nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 2, 1, bias=False)
            layers[f"up{i}_norm"] = nn.BatchNorm2d(widths[i + 1])
            layers[f"up{i}_act"] = nn.ReLU()
        layers["to_image"] = nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False)
        layers["output"] = nn.Tanh()
        super().__init__(OrderedDict(layers))
        self.latent_dim = latent_dim

    def forward(self, z: Tensor) -> Tensor:
        return super().forward(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Sequential):
    """image [N, channels, size, size] -> one logit per image [N]."""

    def __init__(self, channels: int, image_size: int, width: int) -> None:
        n_down = _num_resamplings(image_size)
        widths = [width * 2**i for i in range(n_down)]
        layers: dict[str, nn.Module] = {
            "from_image": nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False),
            "from_image_act": nn.LeakyReLU(0.2),
        }
        for i in range(n_down - 1):
            layers[f"down{i}"] = nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1, bias=False)
            layers[f"down{i}_norm"] = nn.BatchNorm2d(widths[i + 1])
            layers[f"down{i}_act"] = nn.LeakyReLU(0.2)
        layers["to_logit"] = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)
        super().__init__(OrderedDict(layers))

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).flatten()
