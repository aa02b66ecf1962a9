"""Helpers for tricks that wrap a built net: widen its input, read D's features.

Tricks that wrap G or D (conditioning, auxiliary heads, encoders) run after the module
surgery tricks (`order` 95), so the nets they receive may already be rewritten; these
helpers rely only on the first and last weight layers, not on layer names.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

WEIGHT_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def weight_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (name, layer) pairs of `net`'s linear and convolution layers, in module order."""
    return [(name, m) for name, m in net.named_modules() if isinstance(m, WEIGHT_LAYERS)]


def feature_layer(net: nn.Module) -> nn.Module:
    """The layer whose input is D's feature map: `net.feature_layer`, else its last layer."""
    layer = getattr(net, "feature_layer", None)
    return layer if layer is not None else weight_layers(net)[-1][1]


def forward_with_features(net: nn.Module, call: Callable[[], Tensor]) -> tuple[Tensor, Tensor]:
    """`call()`'s result and the input `feature_layer(net)` saw during it (D's features)."""
    seen: list[Tensor] = []
    handle = feature_layer(net).register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    try:
        out = call()
    finally:
        handle.remove()
    return out, seen[-1]


@torch.no_grad()
def feature_shape(net: nn.Module, data_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of one sample's features (build time only: a dry run in eval mode)."""
    was_training = net.training
    parameter = next(net.parameters())
    try:
        with torch.random.fork_rng(devices=[]):
            zeros = torch.zeros(2, *data_shape, device=parameter.device)
            _, features = forward_with_features(net, lambda: net.eval()(zeros))
    finally:
        net.train(was_training)
    return tuple(features.shape[1:])


class SideInput(nn.Module):
    """A layer over [x, extra] (concatenated on dim 1) as `layer(x) + side(extra)`.

    For linear and convolution layers this is exactly the same layer with more input
    channels, while `layer` itself (with any parametrisation, e.g. spectral norm) is kept.
    """

    def __init__(self, layer: nn.Module, extra: int) -> None:
        super().__init__()
        self.layer, self.split = layer, _in_channels(layer)
        self.side = _side_layer(layer, extra)
        nn.init.normal_(self.side.weight, 0.0, 0.02)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(x[:, : self.split]) + self.side(x[:, self.split :])


def widen_input(net: nn.Module, extra: int) -> None:
    """Let `net` take `extra` more input channels (features), concatenated after its own."""
    name, layer = weight_layers(net)[0]
    parent_name, _, child = name.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    parent._modules[child] = SideInput(layer, extra)


def _in_channels(layer: nn.Module) -> int:
    return layer.in_features if isinstance(layer, nn.Linear) else layer.in_channels


def _side_layer(layer: nn.Module, extra: int) -> nn.Module:
    if isinstance(layer, nn.Linear):
        return nn.Linear(extra, layer.out_features, bias=False)
    kind = nn.ConvTranspose2d if isinstance(layer, nn.ConvTranspose2d) else nn.Conv2d
    shape = (layer.kernel_size, layer.stride, layer.padding)
    return kind(extra, layer.out_channels, *shape, bias=False)
