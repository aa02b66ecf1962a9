"""Generator and discriminator architectures: DCGAN, SN-GAN style ResNet, and a 2-D MLP GAN."""

from bench.models.build import build_models, dcgan_init

__all__ = ["build_models", "dcgan_init"]
