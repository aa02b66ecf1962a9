"""A training context for calling trick hooks directly, without a loop."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from bench.train.losses import configured_objective
from bench.tricks.registry import LossTerms, TrainContext, Trick, all_tricks


@pytest.fixture
def ctx() -> TrainContext:
    return TrainContext(
        device=torch.device("cpu"),
        rng=torch.Generator().manual_seed(0),
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


@pytest.fixture
def make_terms():
    """`make_terms(real, fake, discriminator)` -> the `LossTerms` a D update would build."""

    def make(
        real: Tensor,
        fake: Tensor,
        discriminator: nn.Module,
        generator: nn.Module | None = None,
        objective: str = "bce",
        real_labels: Tensor | None = None,
        fake_labels: Tensor | None = None,
    ) -> LossTerms:
        return LossTerms(
            real_logits=discriminator(real),
            fake_logits=discriminator(fake),
            real=real,
            fake=fake,
            generated=fake,
            latent=torch.zeros(len(fake), 1),
            real_labels=real_labels,
            fake_labels=fake_labels,
            generator=generator or nn.Identity(),
            discriminator=discriminator,
            objective=configured_objective(objective, "non_saturating"),
            condition_image=real,
        )

    return make
