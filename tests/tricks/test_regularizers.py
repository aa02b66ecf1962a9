"""R1/R2 (and lazy), bCR, zCR and LeCam: the terms they add, and what they change in training.

The training claims are measured on the same tiny run (64 digits, 200 steps, seed 0) with
and without the trick: each regularizer moves the quantity it penalises.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.data import load_dataset
from bench.train.loop import train
from bench.tricks.consistency import flip_and_shift
from bench.tricks.registry import build_tricks, resolve_tricks
from bench.tricks.zero_centred_penalties import lazy_weight

STEPS = 200


def trained(tiny_job, **tricks: dict):
    cfg = tiny_job(steps=STEPS, **tricks)
    dataset = load_dataset(cfg.data)
    data = dataset.train[:64]
    outcome = train(
        cfg, 0, data, build_tricks(resolve_tricks(cfg.tricks, "t", dataset.capabilities)), "cpu"
    )
    assert outcome.status == "ok"
    z = torch.randn(128, cfg.model.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        fake = outcome.generator.eval()(z)
    return outcome.discriminator.eval(), data, fake


BASELINE: list = []  # trained once per session, shared by the comparisons


@pytest.fixture
def baseline(tiny_job):
    if not BASELINE:
        BASELINE.append(trained(tiny_job))
    return BASELINE[0]


def squared_gradient(discriminator: nn.Module, x: torch.Tensor) -> float:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x)
    return grad.flatten(1).square().sum(1).mean().item()


class Linear(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([[3.0, 4.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum(1)


@pytest.mark.parametrize("name", ["r1_penalty", "r2_penalty"])
def test_penalty_is_half_gamma_times_the_squared_gradient(make_trick, make_terms, ctx, name):
    trick = make_trick(name, gamma=4.0)
    terms = make_terms(torch.randn(8, 2), torch.randn(8, 2), Linear())
    assert trick.d_loss(torch.tensor(1.0), terms, ctx).item() == pytest.approx(1 + 2.0 * 25)


def test_lazy_penalty_applies_every_k_iterations_weighted_by_k(make_trick, make_terms, ctx):
    trick = make_trick("r1_penalty", gamma=2.0, every=4)
    terms = make_terms(torch.randn(8, 2), torch.randn(8, 2), Linear())
    added = []
    for step in range(8):
        ctx.step.fill_(step)
        added.append(trick.d_loss(torch.tensor(0.0), terms, ctx).item())
        assert lazy_weight(4, ctx).item() == (4.0 if step % 4 == 0 else 0.0)
    assert added == pytest.approx([100.0, 0, 0, 0, 100.0, 0, 0, 0])


@pytest.mark.parametrize(("name", "on_real"), [("r1_penalty", True), ("r2_penalty", False)])
def test_zero_centred_penalties_flatten_d_where_they_apply(tiny_job, baseline, name, on_real):
    """Mescheder et al. (2018): R1 (R2) drives D's gradient on real (fake) data to zero."""
    d0, data, fake = baseline
    d1, _, _ = trained(tiny_job, **{name: {}})
    x = data if on_real else fake
    assert squared_gradient(d1, x) < 0.5 * squared_gradient(d0, x)


def test_bcr_makes_d_consistent_under_flips_and_shifts(tiny_job, baseline):
    d0, data, _ = baseline
    d1, _, _ = trained(tiny_job, bcr={})

    class Ctx:
        rng = torch.Generator().manual_seed(3)

    augmented = flip_and_shift(data, True, 0.125, Ctx)
    with torch.no_grad():
        before = (d0(data) - d0(augmented)).square().mean()
        after = (d1(data) - d1(augmented)).square().mean()
    assert after < 0.2 * before


def test_lecam_keeps_real_and_fake_scores_closer(tiny_job, baseline):
    """Tseng et al. (2021): the anchors stop D from pushing real and fake scores apart."""
    d0, data, fake = baseline
    d1, _, _ = trained(tiny_job, lecam={})
    with torch.no_grad():
        gap0, gap1 = d0(data).mean() - d0(fake).mean(), d1(data).mean() - d1(fake).mean()
    assert 0 < gap1 < 0.8 * gap0


def test_lecam_anchors_are_moving_averages_of_d_outputs(make_trick, make_terms, ctx):
    trick = make_trick("lecam", decay=0.5)
    trick.setup(ctx)
    terms = make_terms(torch.ones(4, 2), -torch.ones(4, 2), Linear())  # logits 7 and -7
    trick.d_loss(torch.tensor(0.0), terms, ctx)
    loss = trick.d_loss(torch.tensor(0.0), terms, ctx)
    assert trick.anchors.tolist() == pytest.approx([5.25, -5.25])
    # one-sided: real 7 above a_F = -5.25 and fake -7 below a_R = 5.25, both penalised
    assert loss.item() == pytest.approx(0.3 * 2 * 12.25**2)


def test_zcr_g_term_rewards_spreading_nearby_latents(make_trick, ctx):
    """zCR's G term is -lambda_gen * ||G(z) - G(z + dz)||^2: larger for a steeper G."""
    trick = make_trick("zcr")
    z = torch.randn(16, 4)

    def g_term(scale: float) -> float:
        generator = nn.Linear(4, 4, bias=False)
        nn.init.eye_(generator.weight)
        generator.weight.data *= scale
        terms = type("T", (), {"latent": z, "generated": generator(z), "generator": generator,
                               "fake_labels": None, "condition_image": None})  # fmt: skip
        ctx.rng.manual_seed(0)
        return trick.g_loss(torch.tensor(0.0), terms, ctx).item()

    flat, steep = g_term(1.0), g_term(10.0)
    assert steep == pytest.approx(100 * flat, rel=1e-4) and steep < flat < 0
    assert flat == pytest.approx(-0.5 * 0.03**2, rel=0.2)  # E dz^2 = sigma^2
