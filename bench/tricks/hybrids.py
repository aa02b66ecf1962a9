"""VAE-GAN: an encoder trained with G, a KL term and a reconstruction in D's feature space."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register
from bench.tricks.wrappers import forward_with_features

UNCONDITIONAL = "the VAE-GAN encoder and decoder are unconditional"


class Encoder(nn.Module):
    """x -> (mu, log variance) of q(z | x): a two-layer MLP on the flattened sample."""

    def __init__(self, data_shape: tuple[int, ...], hidden: int, latent_dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(data_shape), hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2 * latent_dim),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_var = self.body(x).chunk(2, dim=1)
        return mu, log_var


class VAEGANGenerator(nn.Module):
    """G with the encoder trained alongside it (so G's optimiser updates both)."""

    def __init__(self, net: nn.Module, encoder: Encoder) -> None:
        super().__init__()
        self.net, self.encoder = net, encoder

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


def kl_divergence(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mu, sigma^2) || N(0, I)), summed over latent dimensions, averaged over the batch."""
    return (-0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(dim=1)).mean()


class VAEGANParams(TrickParams):
    kl_weight: float = Field(1.0, gt=0.0, le=100.0, description="weight of the KL prior term")
    reconstruction_weight: float = Field(
        1.0, gt=0.0, le=100.0, description="weight of the feature-space reconstruction"
    )
    hidden: int = Field(256, ge=8, le=4096, description="encoder hidden units")


@register
class VAEGAN(Trick):
    """VAE-GAN: encode real x, decode with G; KL + reconstruction in D's features + GAN loss.

    Larsen et al. (2016), "Autoencoding beyond pixels using a learned similarity metric":
    the reconstruction error is measured on D's last hidden features (Dis_l), and D also
    sees reconstructions as fakes. The paper weights reconstruction against the GAN term by
    a tuned gamma; both weights are 1 here. Simplifications: an MLP encoder, and the
    encoder also receives the adversarial gradient of its reconstructions.
    """

    name = "vae_gan"
    family = "hybrids"
    citation = "Larsen et al. 2016, Autoencoding beyond pixels (VAE-GAN)"
    Params = VAEGANParams
    refuses_conditioning = {"labels": UNCONDITIONAL}
    reads_real_in_g_step = True  # G reconstructs real images
    order = 95
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        self.encoder = Encoder(ctx.data_shape, self.params.hidden, ctx.latent_dim)
        return VAEGANGenerator(generator, self.encoder)

    def encode(self, x: Tensor, ctx: TrainContext) -> tuple[Tensor, Tensor]:
        """A reparameterised sample z ~ q(z | x) and the KL term."""
        mu, log_var = self.encoder(x)
        noise = torch.randn(mu.shape, generator=ctx.rng, device=mu.device)
        return mu + (0.5 * log_var).exp() * noise, kl_divergence(mu, log_var)

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        with torch.no_grad():
            reconstruction = terms.generator(self.encode(terms.real, ctx)[0])
        logits = terms.discriminate(reconstruction, None)
        return loss + terms.objective.discriminator_fake(logits, torch.zeros_like(logits)).mean()

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        z, kl = self.encode(terms.real, ctx)
        reconstruction = terms.generator(z)
        disc = terms.discriminator
        with torch.no_grad():
            _, real_features = forward_with_features(
                disc, lambda: terms.discriminate(terms.real, None)
            )
        logits, features = forward_with_features(
            disc, lambda: terms.discriminate(reconstruction, None)
        )
        similarity = F.mse_loss(features, real_features)
        adversarial = terms.objective.generator(logits).mean()
        p = self.params
        return loss + adversarial + p.kl_weight * kl + p.reconstruction_weight * similarity
