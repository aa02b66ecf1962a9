"""Objective tricks select the losses their papers define; the gradient penalty is WGAN-GP's."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError
from bench.train.losses import OBJECTIVES, configured_objective
from bench.tricks.registry import all_tricks, resolve_tricks

LOGITS = torch.linspace(-3, 3, 13)
ONES, ZEROS = torch.ones(13), torch.zeros(13)


def losses(make_trick, name: str):
    return configured_objective(make_trick(name).objective, "non_saturating")


def test_every_objective_trick_names_a_known_objective() -> None:
    named = {cls.objective for cls in all_tricks().values() if cls.objective}
    assert named and named <= set(OBJECTIVES)


def test_hinge_loss_is_relu_margins_for_d_and_minus_logit_for_g(make_trick) -> None:
    objective = losses(make_trick, "hinge_loss")
    d = objective.discriminator(LOGITS, LOGITS, ONES, ZEROS)
    assert d == pytest.approx((F.relu(1 - LOGITS) + F.relu(1 + LOGITS)).mean().item())
    assert torch.equal(objective.generator(LOGITS), -LOGITS)


def test_least_squares_loss_is_squared_distance_to_targets(make_trick) -> None:
    objective = losses(make_trick, "least_squares_loss")
    assert torch.allclose(objective.discriminator_real(LOGITS, ONES), 0.5 * (LOGITS - 1) ** 2)
    assert torch.allclose(objective.discriminator_fake(LOGITS, ZEROS), 0.5 * LOGITS**2)
    assert torch.allclose(objective.generator(LOGITS), 0.5 * (LOGITS - 1) ** 2)


def test_wasserstein_loss_is_the_critic_difference(make_trick) -> None:
    objective = losses(make_trick, "wasserstein_loss")
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    assert objective.discriminator(real, fake, ONES[:2], ZEROS[:2]).item() == pytest.approx(-3.0)
    assert objective.generator(fake).mean().item() == pytest.approx(0.0)
    assert OBJECTIVES["wasserstein"].floor is None  # its loss has no floor


def test_explicit_sigmoid_bce_matches_logit_bce_until_d_saturates(make_trick) -> None:
    explicit = losses(make_trick, "explicit_sigmoid_bce")
    stable = configured_objective(None, "non_saturating")
    assert torch.allclose(
        explicit.discriminator_real(LOGITS, ONES),
        stable.discriminator_real(LOGITS, ONES),
        atol=1e-5,
    )
    saturated = torch.tensor([-40.0])  # sigmoid underflows: log(D + eps) caps the loss
    assert explicit.generator(saturated).item() == pytest.approx(
        -torch.log(torch.tensor(1e-8)).item(), rel=1e-3
    )
    assert stable.generator(saturated).item() == pytest.approx(40.0)


def test_two_objectives_are_refused_naming_both() -> None:
    with pytest.raises(ConfigError, match="'hinge_loss' and 'least_squares_loss'"):
        resolve_tricks({"hinge_loss": {}, "least_squares_loss": {}}, "suite", frozenset())


class Linear(nn.Module):
    """D(x) = w . x, one logit per sample."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weight


@pytest.mark.parametrize(("norm", "expected"), [(1.0, 0.0), (3.0, 10.0 * 4.0)])
def test_gradient_penalty_is_zero_for_a_1_lipschitz_linear_d(
    make_trick, make_terms, ctx, norm, expected
) -> None:
    weight = torch.randn(16, generator=torch.Generator().manual_seed(1))
    d = Linear(norm * weight / weight.norm())
    terms = make_terms(torch.randn(32, 1, 4, 4), torch.randn(32, 1, 4, 4), d)
    loss = make_trick("gradient_penalty").d_loss(torch.tensor(0.0), terms, ctx)
    assert loss.item() == pytest.approx(expected, abs=1e-4)  # 10 * (||w|| - 1)^2
