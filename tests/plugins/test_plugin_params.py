"""A plugin model or dataset takes its own settings from the suite (`model.params`,
`data.params`), validated by the pydantic model it registers, recorded in job.json and part of
the job id; built-ins take none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.config import load_suite
from bench.data import load_dataset
from bench.expand import expand
from bench.models.registry import build_networks
from bench.run.job.phases import JobRun, load
from bench.run.store.results import ResultsStore

from .test_plugin_errors import refused

PARAMS_MODULE = """
import math
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from bench.extend import ImageSplits, image_dataset, register_dataset, register_model

class DepthParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden_layers: int = Field(1, ge=0, le=4)

def mlp(sizes):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    return layers[:-1]

@register_model("deep_mlp", image_sizes=(8,), channels=(1,), params=DepthParams)
def deep_mlp(cfg, shape, num_classes):
    depth, n = DepthParams(**cfg.params).hidden_layers, math.prod(shape)
    hidden = [16] * (depth + 1)
    generator = nn.Sequential(*mlp([cfg.latent_dim, *hidden, n]), nn.Tanh(), nn.Unflatten(1, shape))
    return generator, nn.Sequential(nn.Flatten(), *mlp([n, *hidden, 1]), nn.Flatten(0))

@register_model("loose", image_sizes=(8,))
def loose(cfg, shape, num_classes):
    generator, discriminator = deep_mlp(cfg.model_copy(update={"params": {}}), shape, num_classes)
    generator.seen_params = dict(cfg.params)
    return generator, discriminator

class StripeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(200, ge=10)

@register_dataset("stripes", kind="image", capabilities={"images", "labels"}, image_size=8,
                  params=StripeParams)
def stripes(cfg):
    count = StripeParams(**cfg.params).count
    labels = torch.arange(count) % 8
    images = torch.zeros(count, 1, 8, 8, dtype=torch.uint8)
    images[torch.arange(count), 0, labels, :] = 255
    n_test = count // 5
    splits = ImageSplits(images[n_test:], images[:n_test], labels[n_test:], labels[:n_test], 8)
    return image_dataset("stripes", splits, cfg.image_size)
"""
SUITE = """
[suite]
name = "params"
seeds = [0]
exploratory = "a params test"
plugins = ["param_plugin"]

[base.data]
name = "{data}"
{data_params}
[base.model]
arch = "{arch}"
latent_dim = 8
{model_params}
[base.train]
steps = 2
batch_size = 16

[base.eval]
metrics = ["fid"]
backbone = "domain"

[tricks.uniform_latent]
"""


@pytest.fixture
def write_suite(plugin_folder, tmp_path: Path):
    plugin_folder.module("param_plugin", PARAMS_MODULE)

    def write(data="stripes", arch="deep_mlp", data_params="", model_params="") -> Path:
        path = tmp_path / "params.toml"
        path.write_text(
            SUITE.format(data=data, arch=arch, data_params=data_params, model_params=model_params)
        )
        return path

    return write


def jobs_of(path: Path, *overrides: str):
    return expand(load_suite(path, list(overrides)), str(path))


def test_params_reach_the_plugin_and_are_recorded(write_suite, tmp_path: Path) -> None:
    suite = write_suite(
        data_params="params = {count = 300}", model_params="params = {hidden_layers = 3}"
    )
    assert main(["run", str(suite), "--dry-run"]) == 0
    job = jobs_of(suite)[0]
    assert job.config.model.params == {"hidden_layers": 3}
    assert job.config.data.params == {"count": 300}
    dataset = load_dataset(job.config.data)
    assert len(dataset.train) + len(dataset.test) == 300
    generator, _ = build_networks(job.config.model, dataset.shape, dataset.num_classes)
    assert sum(isinstance(m, torch.nn.Linear) for m in generator) == 5
    loaded = load(job, JobRun(ResultsStore(tmp_path / "results"), torch.device("cpu")))
    recorded = json.loads((loaded.folder / "job.json").read_text())["config"]
    assert recorded["model"]["params"] == {"hidden_layers": 3}
    assert recorded["data"]["params"] == {"count": 300}


def test_params_are_part_of_the_job_id_with_defaults_filled(write_suite) -> None:
    suite = write_suite()
    default = jobs_of(suite)[0]
    assert default.config.model.params == {"hidden_layers": 1}, "defaults are filled in"
    assert default.config.data.params == {"count": 200}
    same = jobs_of(suite, "model.params.hidden_layers=1")[0]
    other = jobs_of(suite, "model.params.hidden_layers=2")[0]
    more_data = jobs_of(suite, "data.params.count=300")[0]
    assert same.id == default.id
    assert len({default.id, other.id, more_data.id}) == 3
    versions = {load_dataset(job.config.data).version for job in (default, more_data)}
    assert len(versions) == 2, "metrics are cached per dataset version"


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ["model.params.hidden_layers=9"],
            "key 'model.params.hidden_layers' = 9: Input should be less than or equal to 4",
        ),
        (["data.params.size=16"], "unknown key 'data.params.size'; allowed here: count"),
        (
            ["model.arch=dcgan", "data.name=digits", "model.params.depth=3"],
            "key 'model.params' = {'depth': 3}: model 'dcgan' takes no params",
        ),
        (
            ["model.arch=dcgan", "data.name=digits", "data.params.count=3"],
            "key 'data.params' = {'count': 3}: dataset 'digits' takes no params",
        ),
    ],
)
def test_bad_params_are_one_line_naming_the_key(
    write_suite, capsys, tmp_path: Path, sets: list[str], message: str
) -> None:
    overrides = [arg for s in sets for arg in ("--set", s)]
    err = refused(capsys, tmp_path, "run", str(write_suite()), "--dry-run", *overrides)
    assert "params.toml: variant 'baseline': " in err and message in err


def test_a_plugin_without_a_params_model_gets_them_as_written(write_suite) -> None:
    suite = write_suite(arch="loose", model_params='params = {style = "wide", gain = 2}')
    job = jobs_of(suite)[0]
    assert job.config.model.params == {"style": "wide", "gain": 2}
    generator, _ = build_networks(job.config.model, (1, 8, 8), 8)
    assert generator.seen_params == {"style": "wide", "gain": 2}


def test_a_config_without_params_records_none(write_suite) -> None:
    """So the ids of every job without params are what they were before params existed."""
    job = jobs_of(write_suite(), "model.arch=dcgan", "data.name=digits")[0]
    config = job.record()["config"]
    assert "params" not in config["model"] and "params" not in config["data"]
