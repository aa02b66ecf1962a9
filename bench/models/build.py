"""Build the generator and discriminator a job's `ModelConfig` asks for, with DCGAN init."""

from __future__ import annotations

from torch import nn

from bench.config import ModelConfig
from bench.errors import ConfigError
from bench.models.dcgan import SUPPORTED_SIZES, DCGANDiscriminator, DCGANGenerator
from bench.models.mlp import MLPDiscriminator, MLPGenerator


def dcgan_init(module: nn.Module) -> None:
    """Weights N(0, 0.02), norm scales N(1, 0.02), biases 0 (Radford et al. 2016, sec. 4)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d | nn.BatchNorm1d) and layer.affine:
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def build_models(cfg: ModelConfig, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for data of `data_shape`: (C, H, W) images -> DCGAN, (2,) points -> MLP."""
    if cfg.arch == "mlp":
        if len(data_shape) != 1:
            raise ConfigError(f"model.arch = 'mlp' needs 2-D point data, got shape {data_shape}")
        dim = data_shape[0]
        generator: nn.Module = MLPGenerator(cfg.latent_dim, dim, cfg.mlp_hidden, cfg.mlp_layers)
        discriminator: nn.Module = MLPDiscriminator(dim, cfg.mlp_hidden, cfg.mlp_layers)
    else:
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise ConfigError(
                f"model.arch = 'dcgan' needs square images, got shape {data_shape}; "
                "use model.arch = 'mlp' for 2-D data"
            )
        channels, size = data_shape[0], data_shape[1]
        if size not in SUPPORTED_SIZES:
            raise ConfigError(
                f"model.arch = 'dcgan' supports image sizes {SUPPORTED_SIZES}, got {size}; "
                "set data.image_size to one of them"
            )
        generator = DCGANGenerator(cfg.latent_dim, channels, size, cfg.g_width)
        discriminator = DCGANDiscriminator(channels, size, cfg.d_width)
    dcgan_init(generator)
    dcgan_init(discriminator)
    return generator, discriminator
