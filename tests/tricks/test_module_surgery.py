"""Every net-rewriting trick keeps G and D mapping the right shapes, alone and combined."""

from __future__ import annotations

import itertools

import pytest
import torch

from bench.config import ModelConfig
from bench.data import load_dataset
from bench.errors import ConfigError
from bench.models import build_models
from bench.train.loop import train
from bench.tricks.registry import build_tricks, resolve_tricks

IMAGE_TRICKS = [
    ("generator_norm", {"kind": "instance"}),
    ("generator_norm", {"kind": "none"}),
    ("discriminator_norm", {"kind": "layer"}),
    ("batchnorm_everywhere", {}),
    ("virtual_batch_norm", {"reference_size": 4}),
    ("generator_upsampling", {"kind": "nearest"}),
    ("generator_upsampling", {"kind": "pixel_shuffle"}),
    ("discriminator_downsampling", {"kind": "max_pool"}),
    ("generator_kernel_size", {"size": 3}),
    ("generator_kernel_size", {"size": 6}),
    ("fully_connected_ends", {"hidden": 16}),
]
ANY_DATA_TRICKS = [
    ("spectral_norm", {"generator": True}),
    ("leaky_relu_generator", {}),
    ("relu_discriminator", {}),
    ("discriminator_capacity", {"factor": 1.5}),
    ("weight_init", {"kind": "default"}),
    ("weight_init", {"kind": "truncated_normal"}),
    ("generator_dropout", {}),
    ("generator_layer_noise", {}),
    ("minibatch_discrimination", {"kernels": 4, "kernel_dim": 2}),
    ("minibatch_stddev", {}),
]
SHAPES = [(c, s, s) for c, s in itertools.product((1, 3), (8, 16, 32, 64))]


def rewritten(name: str, params: dict, shape: tuple[int, ...], arch: str, make_trick, ctx):
    ctx.data_shape = shape
    generator, discriminator = build_models(
        ModelConfig(arch=arch, latent_dim=16, g_width=4, d_width=4, mlp_hidden=8), shape
    )
    trick = make_trick(name, **params)
    return trick.build_generator(generator, ctx), trick.build_discriminator(discriminator, ctx)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    ("name", "params"), IMAGE_TRICKS + ANY_DATA_TRICKS, ids=lambda v: str(v) if v else ""
)
def test_dcgan_shapes_survive_the_rewrite(make_trick, ctx, name, params, shape) -> None:
    generator, discriminator = rewritten(name, params, shape, "dcgan", make_trick, ctx)
    images = generator(torch.randn(4, 16))
    assert images.shape == (4, *shape)
    assert discriminator(images).shape == (4,)


@pytest.mark.parametrize(("name", "params"), ANY_DATA_TRICKS, ids=lambda v: str(v) if v else "")
def test_mlp_shapes_survive_the_rewrite(make_trick, ctx, name, params) -> None:
    generator, discriminator = rewritten(name, params, (2,), "mlp", make_trick, ctx)
    points = generator(torch.randn(4, 16))
    assert points.shape == (4, 2)
    assert discriminator(points).shape == (4,)


@pytest.mark.parametrize("name", sorted({name for name, _ in IMAGE_TRICKS}))
def test_image_only_tricks_are_refused_on_2d_data(name) -> None:
    with pytest.raises(ConfigError, match=f"'{name}' needs images"):
        resolve_tricks({name: {}}, "suite.toml", frozenset({"toy2d"}))


def test_conflicting_rewrites_are_refused_naming_both() -> None:
    spec = {"generator_upsampling": {}, "generator_kernel_size": {}}
    with pytest.raises(ConfigError, match="cannot be combined") as error:
        resolve_tricks(spec, "suite.toml", frozenset({"images"}))
    assert "'generator_upsampling'" in str(error.value)
    assert "'generator_kernel_size'" in str(error.value)


def test_all_rewrites_at_once_train(tiny_job) -> None:
    spec = {name: params for name, params in IMAGE_TRICKS + ANY_DATA_TRICKS}
    del spec["generator_upsampling"], spec["generator_norm"]  # the two conflicting rewrites
    job = tiny_job(steps=4, **spec)
    tricks = build_tricks(resolve_tricks(job.tricks, "test", frozenset({"images"})))
    outcome = train(job, 0, load_dataset(job.data).train, tricks, torch.device("cpu"))
    assert outcome.steps_completed == 4
