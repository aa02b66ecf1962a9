"""Offline feature extractors for torch-fidelity: the domain backbone and Inception weights.

The domain backbone is a small CNN classifier trained once on a dataset's training split,
cached as a file named by a hash of its recipe and the dataset version, and registered with
torch-fidelity as the feature extractor `gan-bench-domain`: FID, KID and precision/recall use
its penultimate layer (scaled to unit RMS on the train split, the scale KID's polynomial
kernel is made for), the Inception Score its logits. torch-fidelity hands extractors uint8
images [N, 3, H, W] (the Inception convention); the extractor converts them to the channel
count and size the backbone was trained on.

For stacked MNIST (three digits as RGB channels) the backbone is a digit classifier trained on
the channels and applied to each: its features are the three channels' features side by side,
its logits the joint log-probabilities of the 1000 digit triples (index 100*d0 + 10*d1 + d2).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits
from torch import Tensor, nn
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from bench.errors import MetricsError
from bench.metrics.cache import atomic_save

if TYPE_CHECKING:
    from bench.data.base import Dataset

# Bump when the network or the training code changes: old cached backbones stop matching.
RECIPE_VERSION = 2
DOMAIN_EXTRACTOR = "gan-bench-domain"
INCEPTION_EXTRACTOR = "inception-v3-compat"
INCEPTION_WEIGHTS_ENV = "GAN_BENCH_INCEPTION_WEIGHTS"
INCEPTION_SHA256_PREFIX = "6726825d"  # torch.hub naming: the prefix is in the file name
FEATURE_LAYER = "penultimate"
LOGITS_LAYER = "logits"
TRAIN_EPOCHS = 10
TRAIN_MAX_STEPS = 2000  # MNIST at 32 px: 98.4% test accuracy in ~50 CPU-s (docs/metrics.md)
# Inputs this large start with a stride-2 conv and train on shifted batches: on MNIST at 32 px,
# 1000 steps went from 96.5% to 98.0% accuracy in under half the time (docs/metrics.md).
STRIDED_STEM_SIZE = 16
STACKED_DATASETS = frozenset({"stacked_mnist"})
# Tiny nets and KID's small matmuls on 128-d features run on one thread: with two, OpenMP and
# OpenBLAS spin-wait, and on a busy 2-core machine training took 38 s instead of 3.7 s and each
# KID matmul 31 ms instead of 0.9 ms (measured).
SMALL_WORK_THREADS = 1


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a trained domain backbone, apart from the data."""

    channels: int
    image_size: int
    num_classes: int
    steps: int
    stem_stride: int = 1
    max_shift: int = 0  # training augmentation: random translations of up to this many px
    per_channel: bool = False  # a classifier of single channels, applied to each channel
    width: int = 32
    feature_dim: int = 128
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    recipe_version: int = RECIPE_VERSION


@dataclass(frozen=True)
class Backbone:
    """A feature extractor ready for torch-fidelity, and what identifies its numbers."""

    name: str  # "domain" or "inception-v3-compat", as recorded in results
    extractor: str  # torch-fidelity registry name
    version: str
    weights_path: Path
    test_accuracy: float | None
    batch_size: int
    cpu_threads: int | None  # OpenMP and BLAS threads while scoring; None: the defaults
    num_classes: int | None = None  # the classes `test_accuracy` is over (chance: 1 / this)


class DomainClassifier(nn.Module):
    """Three convs (the last two 3x3, stride 2), 2x2 average pool, a hidden layer, a linear head.

    The first conv is 3x3 with stride 1, or 5x5 with stride 2 (`recipe.stem_stride`).
    """

    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        width, stride = recipe.width, recipe.stem_stride
        kernel = 3 if stride == 1 else 5
        self.features = nn.Sequential(
            nn.Conv2d(recipe.channels, width, kernel, stride=stride, padding=kernel // 2),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * width, recipe.feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(recipe.feature_dim, recipe.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def to_uint8(images: Tensor) -> Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255], as torch-fidelity expects."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def prepare(images: Tensor, channels: int, image_size: int) -> Tensor:
    """uint8 [N, 1 or 3, H, W] -> float in [-1, 1] with the backbone's channels and size."""
    x = images.float() / 127.5 - 1
    if x.shape[1] != channels:
        x = x.mean(dim=1, keepdim=True) if channels == 1 else x.expand(-1, channels, -1, -1)
    if x.shape[-2:] != (image_size, image_size):
        x = F.interpolate(x, size=image_size, mode="bilinear", antialias=True)
    return x


class DomainFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity adapter: the domain backbone saved at `feature_extractor_weights_path`."""

    def __init__(
        self,
        name: str,
        features_list: list[str],
        feature_extractor_weights_path: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise MetricsError(f"{DOMAIN_EXTRACTOR} needs feature_extractor_weights_path")
        saved = torch.load(feature_extractor_weights_path, map_location="cpu", weights_only=True)
        self.recipe = Recipe(**saved["recipe"])
        self.classifier = DomainClassifier(self.recipe)
        self.classifier.load_state_dict(saved["state_dict"])
        self.feature_scale: float = saved["feature_scale"]

    @staticmethod
    def get_provided_features_list() -> tuple[str, str]:
        return FEATURE_LAYER, LOGITS_LAYER

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return LOGITS_LAYER if metric == "isc" else FEATURE_LAYER

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        recipe, n, c, h, w = self.recipe, *images.shape
        if recipe.per_channel:
            images = images.reshape(n * c, 1, h, w)
        features = self.classifier.features(prepare(images, recipe.channels, recipe.image_size))
        logits = self.classifier.head(features)
        if recipe.per_channel:
            features = features.view(n, -1)
            logits = joint_log_probs(F.log_softmax(logits, dim=1).view(n, c, -1))
        out = {FEATURE_LAYER: features * self.feature_scale, LOGITS_LAYER: logits}
        return tuple(out[name] for name in self.features_list)


def joint_log_probs(log_probs: Tensor) -> Tensor:
    """Per-channel log-probabilities [N, C, K] -> of the K^C tuples [N, K^C], row-major."""
    joint = log_probs[:, 0]
    for channel in range(1, log_probs.shape[1]):
        joint = (joint.unsqueeze(2) + log_probs[:, channel].unsqueeze(1)).flatten(1)
    return joint


if DOMAIN_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(DOMAIN_EXTRACTOR, DomainFeatureExtractor)


@dataclass(frozen=True)
class LabelledImages:
    """What a domain classifier is trained and tested on."""

    train: Tensor
    train_labels: Tensor
    test: Tensor
    test_labels: Tensor
    num_classes: int
    per_channel: bool


def labelled_splits(dataset: Dataset) -> LabelledImages:
    """The dataset's labelled splits (stacked digits: one image per channel); or an error."""
    if dataset.kind != "image":
        raise MetricsError(f"dataset '{dataset.name}': the domain backbone needs images")
    train_labels, test_labels = dataset.train_labels, dataset.test_labels
    if train_labels is None or test_labels is None or dataset.num_classes is None:
        raise MetricsError(
            f"dataset '{dataset.name}' has no class labels, so no domain backbone can be trained; "
            f"use eval.backbone = 'inception-v3-compat' with eval.weights_path (or "
            f"${INCEPTION_WEIGHTS_ENV}) pointing at local Inception weights"
        )
    if dataset.name in STACKED_DATASETS:
        return LabelledImages(
            *channel_digits(dataset.train, train_labels),
            *channel_digits(dataset.test, test_labels),
            num_classes=10,
            per_channel=True,
        )
    return LabelledImages(
        dataset.train, train_labels, dataset.test, test_labels, dataset.num_classes, False
    )


def channel_digits(images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Stacked digits [N, C, H, W] with labels sum_c d_c 10^(C-1-c) -> [N*C, 1, H, W], digits."""
    n, c, h, w = images.shape
    places = 10 ** torch.arange(c - 1, -1, -1)
    digits = labels.unsqueeze(1) // places % 10
    return images.reshape(n * c, 1, h, w), digits.flatten()


def domain_recipe(data: LabelledImages) -> Recipe:
    """Training steps from the split size (capped), a strided stem and shifts from 16 px up."""
    _, channels, image_size, _ = data.train.shape
    steps = min(TRAIN_MAX_STEPS, math.ceil(TRAIN_EPOCHS * len(data.train) / Recipe.batch_size))
    strided = image_size >= STRIDED_STEM_SIZE
    return Recipe(
        channels,
        image_size,
        data.num_classes,
        steps,
        stem_stride=2 if strided else 1,
        max_shift=image_size // STRIDED_STEM_SIZE,
        per_channel=data.per_channel,
    )


def domain_version(recipe: Recipe, dataset_version: str) -> str:
    text = json.dumps({"recipe": asdict(recipe), "dataset": dataset_version}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def domain_backbone(dataset: Dataset, cache_dir: Path) -> Backbone:
    """The domain backbone of `dataset`: loaded from the cache, else trained once and cached."""
    data = labelled_splits(dataset)
    recipe = domain_recipe(data)
    version = domain_version(recipe, dataset.version)
    path = cache_dir / "backbones" / f"domain-{version}.pt"
    if not path.is_file():
        net = train_domain_classifier(recipe, data.train, data.train_labels)
        saved = {
            "recipe": asdict(recipe),
            "state_dict": net.state_dict(),
            "feature_scale": 1 / root_mean_square_feature(net, recipe, data.train),
            "test_accuracy": accuracy(net, recipe, data.test, data.test_labels),
            "dataset": dataset.name,
            "dataset_version": dataset.version,
        }
        atomic_save(saved, path)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return Backbone(
        name="domain",
        extractor=DOMAIN_EXTRACTOR,
        version=version,
        weights_path=path,
        test_accuracy=saved["test_accuracy"],
        batch_size=500,
        cpu_threads=SMALL_WORK_THREADS,
        num_classes=recipe.num_classes,
    )


def train_domain_classifier(recipe: Recipe, images: Tensor, labels: Tensor) -> DomainClassifier:
    """Seeded Adam with a cosine schedule on CPU, on randomly shifted batches (black borders).

    Images go through the same uint8 round trip as at evaluation.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = DomainClassifier(recipe)
    generator = torch.Generator().manual_seed(recipe.seed)
    inputs = prepare(to_uint8(images), recipe.channels, recipe.image_size)
    optimizer = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, recipe.steps)
    with threadpool_limits(SMALL_WORK_THREADS):
        for _ in range(recipe.steps):
            batch = torch.randint(len(inputs), (recipe.batch_size,), generator=generator)
            shifted = random_shift(inputs[batch], recipe.max_shift, generator)
            loss = F.cross_entropy(net(shifted), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return net.eval()


def random_shift(images: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """The batch translated by one random offset of up to `max_shift` px, black borders."""
    if max_shift == 0:
        return images
    h, w = images.shape[-2:]
    padded = F.pad(images, (max_shift,) * 4, value=-1.0)
    top, left = torch.randint(2 * max_shift + 1, (2,), generator=generator).tolist()
    return padded[..., top : top + h, left : left + w]


@torch.no_grad()
def root_mean_square_feature(net: DomainClassifier, recipe: Recipe, images: Tensor) -> float:
    inputs = prepare(to_uint8(images), recipe.channels, recipe.image_size)
    squares = torch.cat([net.features(chunk).square() for chunk in inputs.split(1000)])
    return squares.mean().sqrt().item()


@torch.no_grad()
def accuracy(net: DomainClassifier, recipe: Recipe, images: Tensor, labels: Tensor) -> float:
    inputs = prepare(to_uint8(images), recipe.channels, recipe.image_size)
    predictions = torch.cat([net(chunk).argmax(dim=1) for chunk in inputs.split(1000)])
    return (predictions == labels).float().mean().item()


def inception_weights_path(configured: str | None) -> str | None:
    """The local Inception weights: `eval.weights_path`, else `$GAN_BENCH_INCEPTION_WEIGHTS`."""
    return configured or os.environ.get(INCEPTION_WEIGHTS_ENV) or None


def inception_backbone(weights_path: str | None, cache_dir: Path) -> Backbone:
    """torch-fidelity's Inception-v3 with local weights, downloaded into `cache_dir` if none."""
    if weights_path is None:
        path = download_inception_weights(cache_dir)
    else:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise MetricsError(
                f"eval.weights_path = '{weights_path}': no such file; expected the Inception "
                f"weights from {URL_INCEPTION_V3}"
            )
    return Backbone(
        name="inception-v3-compat",
        extractor=INCEPTION_EXTRACTOR,
        version=file_digest(path),
        weights_path=path,
        test_accuracy=None,
        batch_size=64,
        cpu_threads=None,
    )


def cached_inception_weights(cache_dir: Path) -> Path:
    """Where a download of the Inception weights is kept."""
    return cache_dir / "weights" / URL_INCEPTION_V3.rsplit("/", 1)[-1]


def download_inception_weights(cache_dir: Path) -> Path:
    path = cached_inception_weights(cache_dir)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(
            URL_INCEPTION_V3, str(path), hash_prefix=INCEPTION_SHA256_PREFIX, progress=False
        )
    except (OSError, RuntimeError) as err:
        raise MetricsError(
            f"eval.backbone = 'inception-v3-compat' needs the Inception weights, and downloading "
            f"them failed ({err}). Offline, fetch {URL_INCEPTION_V3} on a machine with internet "
            f"and pass the file with `--set eval.weights_path=/path/to/{path.name}` or the "
            f"environment variable {INCEPTION_WEIGHTS_ENV}=/path/to/{path.name}; or use "
            f"`--set eval.backbone=domain` (a classifier trained on the dataset's labels)"
        ) from err
    return path


def file_digest(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256: the version of a weights file."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()[:16]
