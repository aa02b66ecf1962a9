"""mixed_batches: D runs once on real+fake together instead of twice, separately."""

from __future__ import annotations

import torch

from bench.data import load_dataset
from bench.train.loop import GANStep
from bench.tricks.registry import TrainContext


def d_batch_sizes(tiny_job, tricks) -> list[int]:
    cfg = tiny_job()
    data = load_dataset(cfg.data).train
    ctx = TrainContext(
        device=torch.device("cpu"),
        rng=torch.Generator().manual_seed(0),
        total_steps=1,
        batch_size=cfg.train.batch_size,
        latent_dim=cfg.model.latent_dim,
        data_shape=tuple(data.shape[1:]),
    )
    step = GANStep(cfg, data, tricks, ctx)
    sizes: list[int] = []
    step.discriminator.register_forward_pre_hook(lambda _, args: sizes.append(len(args[0])))
    step.discriminator_step()
    return sizes


def test_default_shows_d_separate_real_and_fake_batches(tiny_job) -> None:
    assert d_batch_sizes(tiny_job, []) == [32, 32]


def test_mixed_batches_show_d_one_batch_of_both(tiny_job, make_trick) -> None:
    assert d_batch_sizes(tiny_job, [make_trick("mixed_batches")]) == [64]
