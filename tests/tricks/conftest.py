"""A training context for calling trick hooks directly, without a loop."""

from __future__ import annotations

import pytest
import torch

from bench.tricks.registry import TrainContext, Trick, all_tricks


@pytest.fixture
def ctx() -> TrainContext:
    return TrainContext(
        device=torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
        total_steps=100,
        batch_size=64,
        latent_dim=16,
        data_shape=(1, 8, 8),
    )


@pytest.fixture
def make_trick():
    """`make_trick("noisy_labels", flip_probability=0.2)` -> a validated trick instance."""

    def make(name: str, **params) -> Trick:
        cls = all_tricks()[name]
        return cls(cls.Params(**params))

    return make
