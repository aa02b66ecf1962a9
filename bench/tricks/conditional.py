"""Class-conditional GANs: conditional G and D, AC-GAN's auxiliary classifier, projection D.

Each trick wraps the (possibly rewritten) nets after module surgery (`order` 95). A wrapped
net declares `conditioning = {"labels"}`, so the loop and the evaluation pass it class
labels: the real batch's labels for real data, uniformly drawn ones for fakes.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from bench.tricks.conditional_batch_norm import BatchNormConditionedGenerator
from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register
from bench.tricks.wrappers import feature_layer, feature_shape, forward_with_features, widen_input

Combine = Literal["concat", "add", "multiply", "upsampled"]
UPSAMPLED_SIDE = 4  # the low-dimensional label map is 4x4 before it is upsampled
ONE_CONDITIONING = "each makes G class-conditional; use one conditioning scheme at a time"


class ConditionalGenerator(nn.Module):
    """G(z, y): z combined with a learned embedding of y, then the wrapped G.

    `concat` appends an `embed_dim` embedding to z (G's first layer is widened); `add` and
    `multiply` combine z with a `latent_dim` embedding. G's input is a 1x1 latent, so
    `upsampled` is `concat` here.
    """

    conditioning = frozenset({"labels"})

    def __init__(
        self, net: nn.Module, num_classes: int, latent_dim: int, combine: Combine, embed_dim: int
    ) -> None:
        super().__init__()
        self.net, self.combine = net, combine
        joins = combine in ("concat", "upsampled")
        self.embedding = nn.Embedding(num_classes, embed_dim if joins else latent_dim)
        if joins:
            widen_input(net, embed_dim)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        embedded = self.embedding(labels)
        if self.combine == "add":
            return self.net(z + embedded)
        if self.combine == "multiply":
            return self.net(z * embedded)
        return self.net(torch.cat([z, embedded], dim=1))


class ConditionalDiscriminator(nn.Module):
    """D(x, y): x combined with an embedding of y, then the wrapped D.

    `concat`: an `embed_dim` embedding tiled over the image as extra channels; `upsampled`:
    a 4x4 embedding upsampled (bilinear) to the image size as one extra channel; `add` /
    `multiply`: an embedding the size of x, added to or multiplied with it. For vector data
    both `concat` and `upsampled` append the embedding.
    """

    conditioning = frozenset({"labels"})

    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        data_shape: tuple[int, ...],
        combine: Combine,
        embed_dim: int,
    ) -> None:
        super().__init__()
        self.net, self.combine, self.data_shape = net, combine, data_shape
        self.feature_layer = feature_layer(net)
        images = len(data_shape) == 3
        if combine in ("add", "multiply"):
            size, extra = math.prod(data_shape), 0
        elif combine == "upsampled" and images:
            size, extra = UPSAMPLED_SIDE**2, 1
        else:
            size, extra = embed_dim, embed_dim
        self.embedding = nn.Embedding(num_classes, size)
        if extra:
            widen_input(net, extra)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        embedded = self.embedding(labels)
        if self.combine in ("add", "multiply"):
            embedded = embedded.view(-1, *self.data_shape)
            return self.net(x + embedded if self.combine == "add" else x * embedded)
        if x.dim() == 4:
            if self.combine == "upsampled":
                side = embedded.view(-1, 1, UPSAMPLED_SIDE, UPSAMPLED_SIDE)
                embedded = F.interpolate(side, size=x.shape[2:], mode="bilinear")
            else:
                embedded = embedded[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, embedded], dim=1))


def _num_classes(ctx: TrainContext) -> int:
    if ctx.num_classes is None:
        raise RuntimeError("class-conditional tricks need labels (ctx.num_classes is unset)")
    return ctx.num_classes


class ConditionalParams(TrickParams):
    combine: Combine = Field("concat", description="how the label embedding meets the input")
    embed_dim: int = Field(10, ge=1, le=1024, description="embedding size (concat/upsampled)")


class GeneratorConditioning(Trick):
    """Shared by the tricks that make G class-conditional (not registered itself)."""

    family = "conditional"
    needs = frozenset({"labels"})
    conditions_on = frozenset({"labels"})
    refuses_conditioning = {"labels": ONE_CONDITIONING}
    order = 95
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        p = self.params
        return ConditionalGenerator(
            generator, _num_classes(ctx), ctx.latent_dim, p.combine, p.embed_dim
        )


@register
class ConditionalGAN(GeneratorConditioning):
    """Feed the class label to both G and D through a learned embedding.

    Mirza & Osindero (2014), "Conditional Generative Adversarial Nets" (one-hot labels
    joined to the inputs: an embedding of size 10 by default); the combination (concat /
    add / multiply / a low-dim map upsampled to image size) is a parameter.
    """

    name = "conditional_gan"
    citation = "Mirza & Osindero 2014, Conditional Generative Adversarial Nets"
    Params = ConditionalParams

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        p = self.params
        return ConditionalDiscriminator(
            discriminator, _num_classes(ctx), ctx.data_shape, p.combine, p.embed_dim
        )


class AuxiliaryClassifierDiscriminator(nn.Module):
    """D with a second head that classifies its last hidden features; `forward` is D's."""

    def __init__(self, net: nn.Module, num_classes: int, data_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.net, self.feature_layer = net, feature_layer(net)
        self.classifier = nn.Linear(math.prod(feature_shape(net, data_shape)), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def classify(self, x: Tensor) -> Tensor:
        _, features = forward_with_features(self.net, lambda: self.net(x))
        return self.classifier(features.flatten(1))


class ACGANParams(ConditionalParams):
    class_weight: float = Field(1.0, gt=0.0, le=100.0, description="weight of the class loss")


@register
class AuxiliaryClassifier(GeneratorConditioning):
    """AC-GAN: G is class-conditional; D also predicts the class of real and fake images.

    Odena et al. (2017), "Conditional Image Synthesis with Auxiliary Classifier GANs": D
    minimises the GAN loss plus the class cross-entropy on real and fake images, G its GAN
    loss plus the class cross-entropy on fakes (equal weights there: `class_weight` 1).
    """

    name = "auxiliary_classifier"
    citation = "Odena et al. 2017, AC-GAN"
    Params = ACGANParams

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        return AuxiliaryClassifierDiscriminator(discriminator, _num_classes(ctx), ctx.data_shape)

    def d_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        head = terms.discriminator
        real = F.cross_entropy(head.classify(terms.real), terms.real_labels)
        fake = F.cross_entropy(head.classify(terms.fake.detach()), terms.fake_labels)
        return loss + self.params.class_weight * (real + fake)

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        fake = F.cross_entropy(terms.discriminator.classify(terms.fake), terms.fake_labels)
        return loss + self.params.class_weight * fake


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = D(x) + <embed(y), phi(x)>, phi being D's last features summed over space."""

    conditioning = frozenset({"labels"})

    def __init__(self, net: nn.Module, num_classes: int, data_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.net, self.feature_layer = net, feature_layer(net)
        self.embedding = nn.Embedding(num_classes, feature_shape(net, data_shape)[0])
        nn.init.normal_(self.embedding.weight, 0.0, 0.02)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        logits, features = forward_with_features(self.net, lambda: self.net(x))
        pooled = features.sum(dim=(2, 3)) if features.dim() == 4 else features.flatten(1)
        return logits + (self.embedding(labels) * pooled).sum(dim=1)


class ProjectionParams(ConditionalParams):
    generator: Literal["embedding", "batch_norm"] = Field(
        "embedding",
        description="G's conditioning: a label embedding joined to z, or conditional batch "
        "norm (the paper's)",
    )


@register
class ProjectionDiscriminatorTrick(GeneratorConditioning):
    """Projection discriminator: the label enters D as an inner product with its features.

    Miyato & Koyama (2018), "cGANs with Projection Discriminator", eq. 3, with global sum
    pooling of D's last hidden features. G is conditioned by a label embedding joined to z
    (`combine`), or, as in the paper, by conditional batch norm (`generator = "batch_norm"`:
    per-class scales and shifts in every batch norm of G).
    """

    name = "projection_discriminator"
    citation = "Miyato & Koyama 2018, cGANs with Projection Discriminator"
    Params = ProjectionParams

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        if self.params.generator == "batch_norm":
            return BatchNormConditionedGenerator(generator, _num_classes(ctx), self.name)
        return super().build_generator(generator, ctx)

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        return ProjectionDiscriminator(discriminator, _num_classes(ctx), ctx.data_shape)
