"""Spectral norm keeps the largest singular value of every normalised weight at 1 in training."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from bench.data import load_dataset
from bench.train.loop import train
from bench.tricks.registry import build_tricks, resolve_tricks


def largest_singular_value(layer: nn.Module) -> float:
    dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0  # the output dimension
    matrix = layer.weight.detach().movedim(dim, 0).flatten(1)
    return torch.linalg.matrix_norm(matrix, ord=2).item()


def weighted_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)]


def test_weights_keep_unit_spectral_norm_through_training(tiny_job) -> None:
    job = tiny_job(steps=10, spectral_norm={"generator": True})
    tricks = build_tricks(resolve_tricks(job.tricks, "test", frozenset({"images"})))
    outcome = train(job, 0, load_dataset(job.data).train, tricks, torch.device("cpu"))
    for net in (outcome.discriminator.eval(), outcome.generator.eval()):
        layers = weighted_layers(net)
        assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
        sigmas = [largest_singular_value(m) for m in layers]
        assert all(abs(sigma - 1.0) < 0.05 for sigma in sigmas), sigmas
        # the raw weights moved and are not unit-norm themselves: the reparametrisation is
        raw = [m.parametrizations.weight.original.detach() for m in layers]
        assert any(abs(torch.linalg.matrix_norm(w.flatten(1), ord=2) - 1) > 0.3 for w in raw)
