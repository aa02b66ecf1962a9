"""Feature matching: G matches the mean of D's features on real data."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams, register
from bench.tricks.wrappers import forward_with_features


class FeatureMatchingParams(TrickParams):
    replace: bool = Field(True, description="replace G's GAN loss (the paper) or add to it")
    weight: float = Field(1.0, gt=0.0, le=1000.0, description="weight of the matching term")


@register
class FeatureMatching(Trick):
    """G minimises ||E f(x) - E f(G(z))||^2, f being D's last hidden features.

    Salimans et al. (2016), "Improved Techniques for Training GANs", sec. 3.1: the new
    objective replaces G's (default); `replace = false` adds it to G's GAN loss instead.
    """

    name = "feature_matching"
    family = "improved_techniques"
    citation = "Salimans et al. 2016, Improved Techniques for Training GANs, sec. 3.1"
    Params = FeatureMatchingParams
    conflicts = {"top_k_training": "both replace G's loss"}
    reads_real_in_g_step = True  # D's features on real data
    order = 20
    capturable = True

    def g_loss(self, loss: Tensor, terms: LossTerms, ctx: TrainContext) -> Tensor:
        matching = self.params.weight * self.distance(terms)
        return matching if self.params.replace else loss + matching

    @staticmethod
    def distance(terms: LossTerms) -> Tensor:
        """||mean f(real) - mean f(fake)||^2 over D's features (flattened per sample)."""
        with torch.no_grad():
            real = features(terms, terms.real, terms.real_labels)
        fake = features(terms, terms.fake, terms.fake_labels)
        return ((real.mean(0) - fake.mean(0)) ** 2).sum()


def features(terms: LossTerms, x: Tensor, labels: Tensor | None) -> Tensor:
    _, found = forward_with_features(terms.discriminator, lambda: terms.discriminate(x, labels))
    return found.flatten(1)
