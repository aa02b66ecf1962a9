"""Build the generator and discriminator a job's `ModelConfig` asks for, with DCGAN init."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import nn

from bench.config import ModelConfig
from bench.errors import ConfigError
from bench.models import dcgan, resnet
from bench.models.dcgan import DCGANDiscriminator, DCGANGenerator
from bench.models.mlp import MLPDiscriminator, MLPGenerator
from bench.models.resnet import ResNetDiscriminator, ResNetGenerator, resnet_init

IMAGE_ARCHS = {"dcgan": dcgan.SUPPORTED_SIZES, "resnet": resnet.SUPPORTED_SIZES}
REFUSED_TRICKS: dict[str, Mapping[str, str]] = {"resnet": resnet.REFUSED_TRICKS}


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


def check_fit(arch: str, image_size: int | None, tricks: Iterable[str], where: str) -> None:
    """Refuse, before anything runs, an image size `arch` cannot build or a trick it refuses."""
    sizes = IMAGE_ARCHS.get(arch)
    if sizes is not None and image_size is not None and image_size not in sizes:
        raise ConfigError(
            f"{where}: model.arch = '{arch}' supports image sizes {sizes}, got "
            f"data.image_size = {image_size}; set data.image_size to one of them"
        )
    refused = REFUSED_TRICKS.get(arch, {})
    for name in tricks:
        if name in refused:
            raise ConfigError(
                f"{where}: trick '{name}' does not apply to model.arch = '{arch}': {refused[name]}"
            )


def build_models(cfg: ModelConfig, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for data of `data_shape`: (C, H, W) images -> DCGAN or ResNet, (2,) -> MLP."""
    if cfg.arch == "mlp":
        if len(data_shape) != 1:
            raise ConfigError(f"model.arch = 'mlp' needs 2-D point data, got shape {data_shape}")
        dim = data_shape[0]
        generator: nn.Module = MLPGenerator(cfg.latent_dim, dim, cfg.mlp_hidden, cfg.mlp_layers)
        discriminator: nn.Module = MLPDiscriminator(dim, cfg.mlp_hidden, cfg.mlp_layers)
    else:
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise ConfigError(
                f"model.arch = '{cfg.arch}' needs square images, got shape {data_shape}; "
                "use model.arch = 'mlp' for 2-D data"
            )
        channels, size = data_shape[0], data_shape[1]
        check_fit(cfg.arch, size, (), "model")
        if cfg.arch == "resnet":
            generator = ResNetGenerator(cfg.latent_dim, channels, size, cfg.g_width)
            discriminator = ResNetDiscriminator(channels, size, cfg.d_width)
            resnet_init(generator)
            resnet_init(discriminator)
            return generator, discriminator
        generator = DCGANGenerator(cfg.latent_dim, channels, size, cfg.g_width)
        discriminator = DCGANDiscriminator(channels, size, cfg.d_width)
    dcgan_init(generator)
    dcgan_init(discriminator)
    return generator, discriminator
