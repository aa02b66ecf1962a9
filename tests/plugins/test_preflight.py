"""Plugin and data mistakes are caught before anything trains, by `bench run` and by
`bench run --dry-run` alike: one line naming the dataset, model or variant, exit code 2,
nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.run.suite as suite_module
from bench.cli import main

from .test_plugin_errors import NETS_MODULE, refused

DATA_MODULE = """
import torch
from bench.extend import Dataset, ImageSplits, image_dataset, register_dataset

def pixels(count, size=8):
    return torch.randint(0, 256, (count, 1, size, size), dtype=torch.uint8)

def labelled(name, train_labels=40, test_labels=20, num_classes=10):
    labels = torch.arange(100) % 10
    splits = ImageSplits(pixels(80), pixels(20), labels[:train_labels], labels[80:80 + test_labels],
                         num_classes)
    return image_dataset(name, splits, 8)

@register_dataset("raises", kind="image", capabilities={"images", "labels"}, image_size=8)
def raises(cfg):
    open("/nonexistent/gan-bench/train.bin")

@register_dataset("few_labels", kind="image", capabilities={"images", "labels"}, image_size=8)
def few_labels(cfg):
    return labelled("few_labels", train_labels=40)

@register_dataset("label_range", kind="image", capabilities={"images", "labels"}, image_size=8)
def label_range(cfg):
    return labelled("label_range", train_labels=80, num_classes=5)

@register_dataset("no_channel", kind="image", capabilities={"images", "labels"}, image_size=8)
def no_channel(cfg):
    images, labels = torch.rand(100, 8, 8) * 2 - 1, torch.arange(100) % 10
    return Dataset("no_channel", "image", images[:80], images[80:], labels[:80], labels[80:],
                   10, "v1")

@register_dataset("twelve_px", kind="image", capabilities={"images", "labels"}, image_size=16)
def twelve_px(cfg):
    images, labels = torch.rand(100, 1, 12, 12) * 2 - 1, torch.arange(100) % 10
    return Dataset("twelve_px", "image", images[:80], images[80:], labels[:80], labels[80:],
                   10, "v1")

@register_dataset("unscaled", kind="image", capabilities={"images", "labels"}, image_size=8)
def unscaled(cfg):
    images, labels = pixels(100).float(), torch.arange(100) % 10
    return Dataset("unscaled", "image", images[:80], images[80:], labels[:80], labels[80:],
                   10, "v1")

@register_dataset("unlabelled", kind="image", capabilities={"images", "labels"}, image_size=8)
def unlabelled(cfg):
    return image_dataset("unlabelled", ImageSplits(pixels(80), pixels(20), None, None, None), 8)

@register_dataset("not_a_dataset", kind="image", capabilities={"images"}, image_size=8)
def not_a_dataset(cfg):
    return pixels(100)
"""
MODELS_MODULE = """
import math
from torch import nn
from bench.extend import register_model

def nets(cfg, shape, num_classes):
    n = math.prod(shape)
    generator = nn.Sequential(nn.Linear(cfg.latent_dim, n), nn.Tanh(), nn.Unflatten(1, shape))
    return generator, nn.Sequential(nn.Flatten(), nn.Linear(n, 1), nn.Flatten(0))

@register_model("grey_or_rgb", image_sizes=(8, 16), channels=(1, 3))
def grey_or_rgb(cfg, shape, num_classes):
    return nets(cfg, shape, num_classes)

def only_g(cfg, shape, num_classes):
    return nets(cfg, shape, num_classes)[0]

def column_logits(cfg, shape, num_classes):
    generator, _ = nets(cfg, shape, num_classes)
    return generator, nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 1))

def small_images(cfg, shape, num_classes):
    generator, _ = nets(cfg, (1, 8, 8), num_classes)
    return generator, nets(cfg, shape, num_classes)[1]
"""
SUITE = """
[suite]
name = "preflight"
seeds = [0]
exploratory = "a preflight test"
plugins = ["broken_data", "my_models"]

[base.data]
name = "{data}"
{data_extra}
[base.model]
arch = "{arch}"
latent_dim = 8
g_width = 8
d_width = 8

[base.train]
steps = 2
batch_size = 16
log_every = 1

[base.eval]
metrics = ["fid"]
num_samples = 100
backbone = "domain"

[tricks.{trick}]
{trick_extra}
"""


@pytest.fixture
def write_suite(plugin_folder, tmp_path: Path):
    """`write_suite(data=..., arch=..., trick=...)` -> a suite using the broken plugins."""
    plugin_folder.module("broken_data", DATA_MODULE)
    plugin_folder.module("my_models", MODELS_MODULE)
    plugin_folder.module("my_nets", NETS_MODULE)

    def write(data="digits", arch="dcgan", trick="uniform_latent", **extra: str) -> Path:
        path = tmp_path / "preflight.toml"
        fields = {"data_extra": "", "trick_extra": "", **extra}
        path.write_text(SUITE.format(data=data, arch=arch, trick=trick, **fields))
        return path

    return write


BROKEN_DATA = [
    ("raises", "the loader failed: FileNotFoundError: [Errno 2] No such file or directory"),
    ("few_labels", "40 training labels for 80 training samples; expected one label per sample"),
    ("label_range", "a training label is 9, outside 0..4 (num_classes = 5)"),
    ("no_channel", "training images have shape (80, 8, 8); expected [N, C, H, W]"),
    ("twelve_px", "training images are 12x12 px; expected 16x16"),
    ("unscaled", "training pixel values span [0, 255]; images must be in [-1, 1]"),
    ("unlabelled", "it declares class labels, but the loader returned none"),
    ("not_a_dataset", "the loader returned Tensor, not a Dataset"),
]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize(("data", "problem"), BROKEN_DATA, ids=[d for d, _ in BROKEN_DATA])
def test_a_broken_dataset_plugin_is_named_before_anything_runs(
    write_suite, capsys, tmp_path: Path, data: str, problem: str, dry_run: bool
) -> None:
    suite = write_suite(data=data)
    err = refused(capsys, tmp_path, "run", str(suite), *(["--dry-run"] if dry_run else []))
    assert f"preflight.toml: dataset '{data}' (plugin 'broken_data'): " in err
    assert problem in err


@pytest.mark.parametrize(("data", "arch"), [("no_channel", "grey_or_rgb"), ("twelve_px", "dcgan")])
def test_malformed_data_is_blamed_on_the_dataset_not_the_model(
    write_suite, capsys, tmp_path: Path, data: str, arch: str
) -> None:
    """Data without its channel dimension, and 12 px images from a dataset registered at 16 px,
    used to be reported by the model ("this data has None", `KeyError: 12`)."""
    suite = write_suite(data=data, arch=arch)
    err = refused(capsys, tmp_path, "run", str(suite), "--dry-run")
    assert f"dataset '{data}' (plugin 'broken_data')" in err
    assert "model" not in err and "KeyError" not in err


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("my_models:only_g", "failed to build or run its nets for data of shape (1, 8, 8)"),
        ("my_models:column_logits", "D returned shape (2, 1) for 2 images; expected one logit"),
        (
            "my_models:small_images",
            "G returned shape (2, 1, 8, 8) for 2 latents; expected (2, 1, 16, 16)",
        ),
        ("my_nets:wrong_image", "G returned shape (2, 10) for 2 latents"),
    ],
)
def test_dry_run_builds_and_runs_every_model(
    write_suite, capsys, tmp_path: Path, arch: str, message: str
) -> None:
    data_extra = "image_size = 16" if arch.endswith("small_images") else ""
    suite = write_suite(arch=arch, data_extra=data_extra)
    err = refused(capsys, tmp_path, "run", str(suite), "--dry-run")
    assert f"model '{arch}' (plugin '{arch.partition(':')[0]}')" in err and message in err


def test_dry_run_sets_up_every_variants_tricks(write_suite, capsys, tmp_path: Path) -> None:
    """PacGAN's packing must divide the batch: a dry run says so, naming the variant, as the
    first job would have failed."""
    suite = write_suite(trick="packing", trick_extra="packing = 3")
    err = refused(capsys, tmp_path, "run", str(suite), "--dry-run")
    assert "preflight.toml: variant 'packing': trick 'packing': train.batch_size (16)" in err
    assert main(["run", str(suite), "--dry-run", "--set", "train.batch_size=18"]) == 0


def test_a_good_plugin_suite_passes_the_dry_run(write_suite, capsys) -> None:
    suite = write_suite(arch="grey_or_rgb", data="digits")
    assert main(["run", str(suite), "--dry-run"]) == 0
    assert "2 jobs in suite 'preflight' (dry run: nothing was started)" in capsys.readouterr().out


def test_a_run_checks_its_jobs_once(write_suite, monkeypatch, tmp_path: Path) -> None:
    calls = []
    checked = suite_module.preflight
    monkeypatch.setattr(suite_module, "preflight", lambda *a: calls.append(a) or checked(*a))
    results = tmp_path / "results"
    argv = ["run", str(write_suite()), "--results", str(results), "--quiet"]
    assert main(argv) == 0
    assert len(calls) == 1


def test_an_empty_metric_list_is_refused_before_anything_runs(
    write_suite, capsys, tmp_path: Path
) -> None:
    """It used to pass validation and fail every job when scored."""
    suite = write_suite()
    err = refused(capsys, tmp_path, "run", str(suite), "--dry-run", "--set", "eval.metrics=[]")
    assert "key 'base.eval.metrics' = []: Tuple should have at least 1 item" in err
