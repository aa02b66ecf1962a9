"""FID, IS, KID and precision/recall of generated images through torch-fidelity.

Images are sampled here and handed to torch-fidelity as Datasets of uint8 tensors (its
generator input crashes on conditional models in 0.4.0), and the backbone is named for every
metric (precision/recall would otherwise silently use VGG16). Features and FID statistics of
the reference split are cached by torch-fidelity under a key naming the dataset and its
version, the split, the sample count and the backbone and its version. Labelled datasets also
get class (or, for stacked MNIST, mode) coverage from the domain classifier (`classes`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch_fidelity
from threadpoolctl import threadpool_limits
from torch import Tensor
from torch.utils.data import Dataset as TorchDataset
from torch_fidelity.utils import (
    create_feature_extractor,
    extract_featuresdict_from_input_id_cached,
    resolve_feature_layer_for_metric,
)

from bench.config import EvalConfig
from bench.errors import MetricsError
from bench.metric_registry import METRICS, Metric, compute_function, eval_requests, requested
from bench.metrics.backbones import (
    Backbone,
    cached_inception_weights,
    domain_backbone,
    inception_backbone,
    inception_weights_path,
    to_uint8,
)
from bench.metrics.classes import coverage_metrics
from bench.metrics.plugin_backbones import backbone_spec
from bench.metrics.result import MetricsResult

if TYPE_CHECKING:
    from bench.data.base import Dataset

# The `eval.metrics` entries torch-fidelity computes (its own flags of the same names).
FIDELITY_REQUESTS = tuple(dict.fromkeys(m.request for m in METRICS if m.fidelity_key))
KID_SUBSET_SIZE = 1000  # torch-fidelity's default, lowered to the sample counts when needed
KID_SUBSETS = 100  # torch-fidelity's default
PRC_NEIGHBORHOOD = 3  # torch-fidelity's default: k of the k-NN balls (Kynkaanniemi et al. 2019)
REFERENCE_SUBSET_SEED = 0  # fixed, so a subset of the split is the same in every job
AUTO_INCEPTION_MIN_SIZE = 32


class ImageTensors(TorchDataset):
    """A torch Dataset over a uint8 tensor [N, 3, H, W], one image per item."""

    def __init__(self, images: Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index]


def evaluate_images(
    generate: Callable[[int], Tensor],
    dataset: Dataset,
    cfg: EvalConfig,
    device: torch.device,
    cache: Path,
    kid_subsets: int = KID_SUBSETS,
) -> MetricsResult:
    """Score `cfg.num_samples` images from `generate(n)` (in [-1, 1], seeded by the caller),
    with backbones and reference features cached under `cache`, KID over `kid_subsets`."""
    if not cfg.metrics:
        raise MetricsError(f"eval.metrics is empty; allowed: {', '.join(eval_requests())}")
    choice, reason = backbone_choice(cfg, dataset, cache)
    backbone = select_backbone(choice, cfg, dataset, cache)
    generated = sample_images(generate, cfg.num_samples, tuple(dataset.train.shape[1:]))
    picked = reference_indices(len(dataset.split(cfg.reference_split)), cfg.reference_samples)
    reference = dataset.split(cfg.reference_split)[picked]
    reference_name = reference_key(dataset, cfg.reference_split, len(reference), backbone)
    values = fidelity_metrics(
        generated, reference, reference_name, backbone, cfg, device, cache, kid_subsets
    )
    with_kid = "kid" in cfg.metrics
    provenance = {
        "backbone": backbone.name,
        "backbone_version": backbone.version,
        "backbone_test_accuracy": backbone.test_accuracy,
        "backbone_classes": backbone.num_classes,
        "backbone_choice": reason,
        "dataset": dataset.name,
        "dataset_version": dataset.version,
        "reference_split": cfg.reference_split,
        "num_generated": len(generated),
        "num_reference": len(reference),
        "kid_subsets": kid_subsets if with_kid else None,
        "kid_subset_size": kid_subset_size(len(generated), len(reference)) if with_kid else None,
        "prc_neighborhood": PRC_NEIGHBORHOOD if "prc" in cfg.metrics else None,
        "eval_seed": cfg.seed,
        "torch_fidelity_version": torch_fidelity.__version__,
    }
    labels = dataset.split_labels(cfg.reference_split)
    if labels is not None and dataset.num_classes is not None:
        classifier = backbone if backbone.name == "domain" else domain_backbone(dataset, cache)
        values.update(coverage_metrics(classifier, generated, dataset, labels[picked]))
        provenance["classifier_version"] = classifier.version
        provenance["classifier_test_accuracy"] = classifier.test_accuracy
        provenance["classifier_classes"] = classifier.num_classes
    return MetricsResult(values, provenance)


def fidelity_metrics(
    generated: Tensor,
    reference: Tensor,
    reference_name: str,
    backbone: Backbone,
    cfg: EvalConfig,
    device: torch.device,
    cache_dir: Path,
    kid_subsets: int = KID_SUBSETS,
) -> dict[str, float]:
    """The image metrics of `cfg.metrics`, all on `backbone`, the reference cached: those with
    a torch-fidelity key from torch-fidelity, the others from their `compute` on the features."""
    metrics = requested(cfg.metrics)
    cuda = device.type == "cuda"
    arguments = {
        "input1": ImageTensors(rgb_uint8(generated)),
        "input2": ImageTensors(rgb_uint8(reference)),
        "input2_cache_name": reference_name,
        "cache": True,
        "cache_root": str(cache_dir / "fidelity"),
        "feature_extractor": backbone.extractor,
        "feature_extractor_weights_path": str(backbone.weights_path),
        **{request: request in cfg.metrics for request in FIDELITY_REQUESTS},
        "kid_subsets": kid_subsets,
        "kid_subset_size": kid_subset_size(len(generated), len(reference)),
        "prc_neighborhood": PRC_NEIGHBORHOOD,
        "rng_seed": cfg.seed,
        "batch_size": backbone.batch_size,
        "cuda": cuda,
        "save_cpu_ram": True,  # in-memory tensors: no DataLoader worker processes
        "verbose": False,
    }
    values: dict[str, float] = {}
    with (
        torch.cuda.device(device) if cuda else nullcontext(),
        threadpool_limits(backbone.cpu_threads),
    ):
        if any(m.fidelity_key for m in metrics):
            raw = torch_fidelity.calculate_metrics(**arguments)
            values = {m.name: float(raw[m.fidelity_key]) for m in metrics if m.fidelity_key}
        computes = dict.fromkeys(feature_computes(metrics))
        if computes:
            features = backbone_features(arguments)
            for compute in computes:
                values |= compute_function(compute)(*features)
    return values


def feature_computes(metrics: list[Metric]) -> list[str]:
    """What computes those of `metrics` that torch-fidelity does not."""
    return [m.compute for m in metrics if m.fidelity_key is None and m.compute is not None]


def backbone_features(arguments: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """The backbone's features of the generated and the reference images (torch-fidelity's
    `input1`, `input2`; the reference's cached), at the layer its precision/recall use."""
    layer = resolve_feature_layer_for_metric("prc", **arguments)
    extractor = create_feature_extractor(arguments["feature_extractor"], [layer], **arguments)
    generated, reference = (
        extract_featuresdict_from_input_id_cached(input_id, extractor, **arguments)[layer]
        for input_id in (1, 2)
    )
    return generated, reference


def kid_subset_size(num_generated: int, num_reference: int) -> int:
    """torch-fidelity's default subset size, lowered to the sample counts (it must fit)."""
    return min(KID_SUBSET_SIZE, num_generated, num_reference)


def backbone_choice(cfg: EvalConfig, dataset: Dataset, cache_dir: Path) -> tuple[str, str]:
    """The backbone to use and why: `auto` means Inception for RGB images of 32 px or more
    when Inception weights are at hand (configured, or downloaded before), else the domain one.
    """
    if cfg.backbone != "auto":
        return cfg.backbone, f"eval.backbone = '{cfg.backbone}'"
    _, channels, height, _ = dataset.train.shape
    if channels != 3:
        return "domain", f"auto: {channels}-channel images (Inception needs RGB)"
    if height < AUTO_INCEPTION_MIN_SIZE:
        return "domain", f"auto: {height} px images (Inception needs {AUTO_INCEPTION_MIN_SIZE}+)"
    if inception_weights_path(cfg.weights_path) or cached_inception_weights(cache_dir).is_file():
        return "inception-v3-compat", "auto: RGB images of 32+ px and Inception weights at hand"
    return "domain", (
        "auto: no Inception weights at hand (eval.weights_path, "
        "$GAN_BENCH_INCEPTION_WEIGHTS or a previous download)"
    )


def select_backbone(
    choice: str,
    cfg: EvalConfig,
    dataset: Dataset,
    cache_dir: Path,
) -> Backbone:
    plugin = backbone_spec(choice)
    if plugin is not None:
        return plugin.make(dataset, cache_dir)
    if choice == "domain":
        return domain_backbone(dataset, cache_dir)
    return inception_backbone(inception_weights_path(cfg.weights_path), cache_dir)


def sample_images(generate: Callable[[int], Tensor], count: int, shape: tuple[int, ...]) -> Tensor:
    """`generate(count)` as a float CPU tensor, checked against the dataset's image shape."""
    images = generate(count)
    if not isinstance(images, Tensor) or tuple(images.shape) != (count, *shape):
        got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise MetricsError(
            f"the generator returned {got}; expected images of shape {(count, *shape)}"
        )
    images = images.detach().float().cpu()
    if not torch.isfinite(images).all():
        raise MetricsError("the generator returned NaN or infinite pixels; nothing to score")
    return images


def reference_indices(split_size: int, count: int | None) -> Tensor:
    """All of the split, or a fixed random subset of `count` of its indices."""
    if count is None or count >= split_size:
        return torch.arange(split_size)
    generator = torch.Generator().manual_seed(REFERENCE_SUBSET_SEED)
    return torch.randperm(split_size, generator=generator)[:count]


def rgb_uint8(images: Tensor) -> Tensor:
    """[-1, 1] images with 1 or 3 channels -> uint8 [N, 3, H, W], as torch-fidelity expects."""
    pixels = to_uint8(images)
    return pixels.expand(-1, 3, -1, -1).contiguous() if pixels.shape[1] == 1 else pixels


def reference_key(dataset: Dataset, split: str, count: int, backbone: Backbone) -> str:
    """torch-fidelity's cache name for the reference features: every input that changes them."""
    parts = [dataset.name, dataset.version, split, f"n{count}", backbone.name, backbone.version]
    key = "-".join(["ref", *parts])
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)
