"""Surgery helpers: layers land where asked; probing shapes changes nothing in the net."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from bench.config import ModelConfig
from bench.errors import ConfigError
from bench.models import build_models
from bench.models.surgery import (
    insert_after,
    insert_before,
    insert_first,
    layer_shapes,
    replace_modules,
    require_layer,
    require_sequential,
)


def test_insertions_keep_the_order_and_names() -> None:
    net = nn.Sequential(OrderedDict(a=nn.Identity(), b=nn.Identity()))
    insert_after(net, "a", "after_a", nn.ReLU())
    insert_before(net, "b", "before_b", nn.Tanh())
    insert_first(net, "first", nn.Flatten())
    assert list(net._modules) == ["first", "a", "after_a", "before_b", "b"]
    assert isinstance(net.after_a, nn.ReLU) and isinstance(net[0], nn.Flatten)


def test_replace_modules_reaches_nested_layers() -> None:
    net = nn.Sequential(nn.ReLU(), nn.Sequential(nn.ReLU(), nn.Tanh()))
    assert replace_modules(net, nn.ReLU, lambda _: nn.ELU()) == 2
    assert not any(isinstance(m, nn.ReLU) for m in net.modules())


def test_layer_shapes_leaves_state_and_rng_untouched() -> None:
    generator, _ = build_models(ModelConfig(latent_dim=16, g_width=8), (3, 16, 16))
    state = {k: v.clone() for k, v in generator.state_dict().items()}
    rng = torch.get_rng_state()
    shapes = layer_shapes(generator, (16,))
    assert shapes["project"].input == (2, 16, 1, 1)
    assert shapes["project"].output == (2, 16, 4, 4)
    assert shapes["to_image"].output == (2, 3, 16, 16)
    assert generator.training
    assert torch.equal(torch.get_rng_state(), rng)
    for key, value in generator.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_wrapped_or_unknown_nets_are_refused_with_the_trick_name() -> None:
    with pytest.raises(ConfigError, match=r"trick 'x'.*got a Linear"):
        require_sequential(nn.Linear(2, 2), "x")
    with pytest.raises(ConfigError, match="trick 'x' needs a layer named 'to_logit'"):
        require_layer(nn.Sequential(nn.Identity()), "to_logit", "x")
