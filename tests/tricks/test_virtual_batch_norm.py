"""Virtual batch norm: an example's output depends on the fixed reference batch, not its batch."""

from __future__ import annotations

import torch
from torch import nn

from bench.config import ModelConfig
from bench.models import build_models
from bench.models.layers import VirtualBatchNorm2d


def generator() -> nn.Module:
    net, _ = build_models(ModelConfig(latent_dim=16, g_width=8, d_width=8), (1, 16, 16))
    return net


def test_outputs_do_not_depend_on_the_rest_of_the_minibatch(make_trick, ctx) -> None:
    net = make_trick("virtual_batch_norm", reference_size=32).build_generator(generator(), ctx)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert sum(isinstance(m, VirtualBatchNorm2d) for m in net.modules()) == 2
    z, others = torch.randn(4, 16), torch.randn(60, 16)
    alone = net(z)
    in_a_batch = net(torch.cat([z, others]))[:4]
    assert alone.shape == (4, 1, 16, 16)
    torch.testing.assert_close(in_a_batch, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(net.eval()(z), alone, atol=1e-5, rtol=0)  # same in eval mode


def test_the_reference_is_fixed_and_differs_from_batch_norm(make_trick, ctx) -> None:
    """The control: batch norm in training mode makes the same z depend on its batch."""
    plain = generator()
    z, others = torch.randn(4, 16), torch.randn(60, 16)
    assert not torch.allclose(plain(torch.cat([z, others]))[:4], plain(z), atol=1e-3)
    net = make_trick("virtual_batch_norm", reference_size=32).build_generator(generator(), ctx)
    reference = net.reference_batch.reference.clone()
    net(torch.cat([z, others]))
    assert torch.equal(net.reference_batch.reference, reference)
    assert reference.shape == (32, 16, 1, 1)
