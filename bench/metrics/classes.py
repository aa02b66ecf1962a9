"""Class coverage of generated images, by the domain classifier.

Stacked MNIST (Metz et al. 2017, "Unrolled Generative Adversarial Networks"; Srivastava et
al. 2017, VEEGAN; Lin et al. 2018, PacGAN): each generated image's mode is the digit triple
the classifier reads in its three channels; `modes_covered` counts the modes (of 1000) with at
least one sample, as PacGAN's evaluation does, and `kl_to_uniform` is KL(generated mode
histogram || uniform), in nats. Other labelled datasets: `class_coverage` is the fraction of
classes predicted for at least one generated image, and `class_kl_to_real` is KL(generated
class histogram || class histogram of the reference images), in nats (infinite, and so left
out of results, if G produces a class the reference images lack).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

from bench.metrics.backbones import (
    DOMAIN_EXTRACTOR,
    LOGITS_LAYER,
    STACKED_DATASETS,
    Backbone,
    DomainFeatureExtractor,
    to_uint8,
)

if TYPE_CHECKING:
    from bench.data.base import Dataset

PREDICT_BATCH = 500


def coverage_metrics(
    classifier: Backbone, generated: Tensor, dataset: Dataset, reference_labels: Tensor
) -> dict[str, float]:
    """Stacked-MNIST mode metrics, or class coverage, of generated images in [-1, 1]."""
    assert dataset.num_classes is not None
    with threadpool_limits(classifier.cpu_threads):
        predicted = predict_classes(classifier, generated)
    if dataset.name in STACKED_DATASETS:
        return stacked_mode_metrics(predicted, dataset.num_classes)
    return class_metrics(predicted, reference_labels, dataset.num_classes)


@torch.no_grad()
def predict_classes(classifier: Backbone, images: Tensor) -> Tensor:
    """The domain classifier's class of each image in [-1, 1] (stacked: the digit triple)."""
    net = DomainFeatureExtractor(DOMAIN_EXTRACTOR, [LOGITS_LAYER], str(classifier.weights_path))
    chunks = [net(to_uint8(chunk))[0].argmax(dim=1) for chunk in images.split(PREDICT_BATCH)]
    return torch.cat(chunks)


def histogram(classes: Tensor, num_classes: int) -> Tensor:
    """Class frequencies (summing to 1), float64."""
    counts = torch.bincount(classes, minlength=num_classes).double()
    return counts / counts.sum()


def kl_divergence(p: Tensor, q: Tensor) -> float:
    """KL(p || q) in nats over the support of p; infinite where q is 0 but p is not."""
    support = p > 0
    return (p[support] * (p[support] / q[support]).log()).sum().item()


def stacked_mode_metrics(modes: Tensor, num_modes: int) -> dict[str, float]:
    """`modes_covered`, `modes_total` and `kl_to_uniform` of predicted modes [N]."""
    p = histogram(modes, num_modes)
    return {
        "modes_covered": float((p > 0).sum()),
        "modes_total": float(num_modes),
        "kl_to_uniform": kl_divergence(p, torch.full_like(p, 1 / num_modes)),
    }


def class_metrics(classes: Tensor, real_labels: Tensor, num_classes: int) -> dict[str, float]:
    """`class_coverage` and `class_kl_to_real` of predicted classes [N]."""
    p = histogram(classes, num_classes)
    return {
        "class_coverage": (p > 0).double().mean().item(),
        "class_kl_to_real": kl_divergence(p, histogram(real_labels, num_classes)),
    }
