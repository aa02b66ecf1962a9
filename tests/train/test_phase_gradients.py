"""G's update does not compute D's weight gradients (D is frozen in the G step), and freezing it
changes no number: the same run gives the same history bit for bit either way."""

from __future__ import annotations

import contextlib

import pytest
import torch

import bench.train.loop
from bench.data import load_dataset
from bench.train.loop import GANStep, train
from bench.tricks.registry import TrainContext, build_tricks, resolve_tricks

CPU = torch.device("cpu")
# tricks whose G loss reaches into D, or that change how D is built or updated
THROUGH_D = (
    {},
    {"feature_matching": {}},
    {"spectral_norm": {}, "gradient_penalty": {}},
    {"minibatch_discrimination": {}, "r1_penalty": {}},
    {"lecam": {}, "ttur": {}},
    {"sgd_discriminator": {}, "zcr": {}},
)


def test_the_g_step_computes_no_discriminator_weight_gradient(tiny_job) -> None:
    cfg = tiny_job(steps=2)
    dataset = load_dataset(cfg.data)
    ctx = TrainContext(CPU, torch.Generator().manual_seed(0), 2, 32, 8, (1, 8, 8))
    step = GANStep(cfg, dataset.train, [], ctx)
    step.discriminator_step()
    for p in step.discriminator.parameters():
        p.grad = None
    step.generator_step()
    assert all(p.grad is None for p in step.discriminator.parameters())
    assert all(p.grad is not None for p in step.generator.parameters())
    assert all(p.requires_grad for p in step.discriminator.parameters())  # restored after


def test_a_parameter_frozen_by_its_trick_stays_frozen(tiny_job) -> None:
    net = torch.nn.Linear(2, 2)
    net.bias.requires_grad_(False)
    with bench.train.loop.frozen(net.parameters()):
        assert not net.weight.requires_grad
    assert net.weight.requires_grad and not net.bias.requires_grad


@pytest.mark.parametrize("spec", THROUGH_D, ids=lambda spec: "+".join(spec) or "baseline")
def test_freezing_d_in_the_g_step_changes_no_number(tiny_job, monkeypatch, spec) -> None:
    cfg = tiny_job(steps=10, **spec)
    dataset = load_dataset(cfg.data)

    def run():
        tricks = build_tricks(resolve_tricks(cfg.tricks, "test", dataset.capabilities))
        return train(cfg, 5, dataset.train, tricks, CPU).history

    frozen = run()
    monkeypatch.setattr(bench.train.loop, "frozen", lambda params: contextlib.nullcontext())
    assert frozen == run()
