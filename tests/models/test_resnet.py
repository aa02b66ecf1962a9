"""The ResNet builders follow Miyato et al. (2018, appendix B.4) and map the right shapes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.errors import ConfigError
from bench.metrics.backbones import DomainClassifier, Recipe
from bench.models import build_models
from bench.models.build import check_fit
from bench.models.resnet import DiscriminatorBlock, GeneratorBlock

TINY = ModelConfig(arch="resnet", latent_dim=16, g_width=8, d_width=8)


@pytest.mark.parametrize("size", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_resnet_shapes(size: int, channels: int) -> None:
    generator, discriminator = build_models(TINY, (channels, size, size))
    images = generator(torch.randn(2, 16))
    assert images.shape == (2, channels, size, size)
    assert images.abs().max() <= 1  # tanh output
    assert discriminator(images).shape == (2,)


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_cifar10_model_has_the_sngan_layout_and_size() -> None:
    """SN-GAN's CIFAR-10 ResNet (z 128, G 256 and D 128 channels): 3 up-blocks, 4 D blocks."""
    cfg = ModelConfig(arch="resnet", latent_dim=128, g_width=256, d_width=128)
    generator, discriminator = build_models(cfg, (3, 32, 32))
    assert sum(isinstance(m, GeneratorBlock) for m in generator.modules()) == 3
    d_blocks = [m for m in discriminator.modules() if isinstance(m, DiscriminatorBlock)]
    downsampling = [any(isinstance(x, nn.AvgPool2d) for x in b.modules()) for b in d_blocks]
    assert downsampling == [True, True, False, False]
    # The published model has 4.3M (G) and 1.0M (D) parameters (Mimicry's SNGAN-32 table).
    assert count(generator) == pytest.approx(4.28e6, rel=0.01)
    assert count(discriminator) == pytest.approx(1.05e6, rel=0.01)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())
    assert isinstance(list(generator.children())[-1], nn.Tanh)


def test_blocks_are_residual() -> None:
    """Zeroing the residual branch's last conv leaves exactly the shortcut's output."""
    block = DiscriminatorBlock(4, 8, down=True, first=False)
    x = torch.randn(2, 4, 8, 8)
    nn.init.zeros_(block.residual[3].weight)
    nn.init.zeros_(block.residual[3].bias)
    assert torch.allclose(block(x), block.shortcut(x))


def test_unsupported_sizes_and_refused_tricks_name_arch_and_trick() -> None:
    with pytest.raises(ConfigError, match=r"model\.arch = 'resnet'.*data\.image_size"):
        build_models(TINY, (1, 8, 8))
    with pytest.raises(ConfigError, match=r"trick 'generator_upsampling'.*'resnet'"):
        check_fit("resnet", 32, ["spectral_norm", "generator_upsampling"], "suite.toml")
    check_fit("dcgan", 128, ["generator_upsampling"], "suite.toml")  # dcgan takes it


@pytest.mark.parametrize("size", [64, 128])
def test_domain_backbone_reads_large_images_at_their_size(size: int) -> None:
    """The domain classifier trains at the data's size: a strided stem, then global pooling."""
    net = DomainClassifier(Recipe(3, size, 10, steps=1, stem_stride=2))
    assert net(torch.zeros(2, 3, size, size)).shape == (2, 10)
