"""Gradient-norm clipping, and the `gradients` hook it runs on: between backward and step."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.data import load_dataset
from bench.train.loop import GANStep, train
from bench.tricks.registry import Role, TrainContext, Trick, build_tricks, resolve_tricks

CPU = torch.device("cpu")


def gradient_norm(net: nn.Module) -> float:
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in net.parameters()])))


def with_gradients(scale: float) -> nn.Module:
    net = nn.Linear(4, 3)
    for p in net.parameters():
        p.grad = torch.full_like(p, scale)
    return net


@pytest.mark.parametrize(("nets", "clipped"), [("both", True), ("generator", False)])
def test_a_large_gradient_is_rescaled_to_max_norm(make_trick, ctx, nets, clipped) -> None:
    trick, net = make_trick("gradient_clipping", max_norm=0.5, nets=nets), with_gradients(10.0)
    direction = torch.cat([p.grad.flatten() for p in net.parameters()])
    trick.gradients("discriminator", net, ctx)
    after = torch.cat([p.grad.flatten() for p in net.parameters()])
    if clipped:
        assert gradient_norm(net) == pytest.approx(0.5, rel=1e-4)
        assert torch.allclose(after / after.norm(), direction / direction.norm())
    else:
        assert torch.equal(after, direction)


def test_a_small_gradient_is_left_alone(make_trick, ctx) -> None:
    net = with_gradients(1e-3)
    before = [p.grad.clone() for p in net.parameters()]
    make_trick("gradient_clipping", max_norm=1.0).gradients("generator", net, ctx)
    assert all(torch.equal(b, p.grad) for b, p in zip(before, net.parameters(), strict=True))


def gan_step(tiny_job, **tricks: dict) -> GANStep:
    cfg = tiny_job(**tricks)
    dataset = load_dataset(cfg.data)
    torch.manual_seed(0)
    ctx = TrainContext(CPU, torch.Generator().manual_seed(0), 10, 32, 8, dataset.shape)
    return GANStep(
        cfg, dataset.train, build_tricks(resolve_tricks(cfg.tricks, "t", dataset.capabilities)), ctx
    )


def test_in_training_an_sgd_step_moves_d_by_at_most_lr_times_max_norm(tiny_job) -> None:
    step = gan_step(
        tiny_job,
        sgd_discriminator={"lr": 0.1},
        gradient_clipping={"max_norm": 1e-3, "nets": "discriminator"},
    )
    before = [p.detach().clone() for p in step.discriminator.parameters()]
    *_, recorded_norm = step.discriminator_step()
    after = step.discriminator.parameters()
    moved = torch.stack([(p.detach() - b).norm() for p, b in zip(after, before, strict=True)])
    moved = moved.norm()
    assert float(recorded_norm) > 1e-2, "the recorded norm is the unclipped one"
    assert float(moved) == pytest.approx(0.1 * 1e-3, rel=1e-3)


class ZeroDiscriminatorGradients(Trick):
    """A test trick: erase D's gradients in the `gradients` hook."""

    name, family, citation = "zero_d_gradients", "test", "a test"

    def gradients(self, role: Role, net: nn.Module, ctx: TrainContext) -> None:
        if role == "discriminator":
            for p in net.parameters():
                p.grad.zero_()


def test_the_gradients_hook_runs_after_backward_and_before_the_step(tiny_job) -> None:
    """Erased gradients leave D's weights as they were (Adam from zero moments moves nothing)
    while G trains, and the recorded D gradient norm is the backpropagated one."""
    cfg = tiny_job(steps=3)
    dataset = load_dataset(cfg.data)
    trick = ZeroDiscriminatorGradients(ZeroDiscriminatorGradients.Params())
    torch.manual_seed(0)
    outcome = train(cfg, 0, dataset.train, [trick], CPU)
    one_step = cfg.model_copy(update={"train": cfg.train.model_copy(update={"steps": 1})})
    torch.manual_seed(0)
    untrained = train(one_step, 0, dataset.train, [trick], CPU)
    assert all(row["d_grad_norm"] > 0 for row in outcome.history)
    trained, once = outcome.discriminator.parameters(), untrained.discriminator.parameters()
    assert all(torch.equal(a, b) for a, b in zip(trained, once, strict=True))
    trained, once = outcome.generator.parameters(), untrained.generator.parameters()
    assert not all(torch.equal(a, b) for a, b in zip(trained, once, strict=True))
