"""sigmoid_output: data in [0, 1], a sigmoid instead of tanh in G, samples back in [-1, 1]."""

from __future__ import annotations

import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models


def test_sigmoid_output_rescales_data_and_g_and_maps_samples_back(make_trick, ctx) -> None:
    trick = make_trick("sigmoid_output")
    data = torch.tensor([-1.0, 0.0, 1.0])
    assert trick.prepare_data(data, ctx).tolist() == [0.0, 0.5, 1.0]
    g, _ = build_models(ModelConfig(latent_dim=16, g_width=8), (1, 8, 8))
    g = trick.build_generator(g, ctx)
    assert not any(isinstance(m, nn.Tanh) for m in g.modules())
    out = g(torch.randn(4, 16) * 100)
    assert out.min() >= 0 and out.max() <= 1
    assert trick.evaluation_output(torch.tensor([0.0, 1.0]), ctx).tolist() == [-1.0, 1.0]
