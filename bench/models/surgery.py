"""Module surgery on the named `nn.Sequential` nets of `bench.models`: find, replace, insert.

Tricks rewrite G and D through these helpers instead of flags in the model files. Layer names
(`project`, `up0`, `to_image`, `from_image`, `down0_norm`, `to_logit`, ...) are the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from bench.errors import ConfigError
from bench.models.build import dcgan_init

ReplaceFn = Callable[[nn.Module], nn.Module]


def require_sequential(net: nn.Module, trick: str) -> nn.Sequential:
    """`net` itself, checked to be a named `nn.Sequential` that surgery can rewrite."""
    if not isinstance(net, nn.Sequential):
        raise ConfigError(
            f"trick '{trick}' rewrites the named layers of a DCGAN/MLP net, but got a "
            f"{type(net).__name__} (another trick replaced the net first)"
        )
    return net


def require_layer(net: nn.Sequential, name: str, trick: str) -> nn.Module:
    """The layer called `name`, or a `ConfigError` naming the trick and the layers there are."""
    if name not in net._modules:
        raise ConfigError(
            f"trick '{trick}' needs a layer named '{name}'; this net has: {', '.join(net._modules)}"
        )
    return net._modules[name]


def fresh(module: nn.Module) -> nn.Module:
    """`module` with DCGAN init, like the baseline nets: a rewrite changes layers, not init."""
    dcgan_init(module)
    return module


def replace_layer(net: nn.Sequential, name: str, module: nn.Module) -> None:
    """Put `module` in place of the layer called `name`, keeping its position."""
    net._modules[name] = module


def insert_after(net: nn.Sequential, anchor: str, name: str, module: nn.Module) -> None:
    """Insert `module` as `name` right after the layer called `anchor`."""
    _insert(net, list(net._modules).index(anchor) + 1, name, module)


def insert_before(net: nn.Sequential, anchor: str, name: str, module: nn.Module) -> None:
    """Insert `module` as `name` right before the layer called `anchor`."""
    _insert(net, list(net._modules).index(anchor), name, module)


def insert_first(net: nn.Sequential, name: str, module: nn.Module) -> None:
    """Insert `module` as `name` before every other layer."""
    _insert(net, 0, name, module)


def _insert(net: nn.Sequential, position: int, name: str, module: nn.Module) -> None:
    items = list(net._modules.items())
    items.insert(position, (name, module))
    net._modules.clear()
    net._modules.update(items)


def replace_modules(
    net: nn.Module, kind: type[nn.Module] | tuple[type[nn.Module], ...], make: ReplaceFn
) -> int:
    """Replace every submodule of type `kind` (at any depth) by `make(old)`; returns the count."""
    count = 0
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, kind):
                parent._modules[name] = make(child)
                count += 1
    return count


class LayerShape(NamedTuple):
    """A layer's input and output shapes, batch dimension included."""

    input: torch.Size
    output: torch.Size


@torch.no_grad()
def layer_shapes(net: nn.Module, sample_shape: tuple[int, ...]) -> dict[str, LayerShape]:
    """The shapes each top-level layer sees, found by running a batch of 2 zeros through.

    Runs in eval mode on a forked RNG, so the net's state and the job's random stream are
    untouched (build time only; never in the training step).
    """
    shapes: dict[str, LayerShape] = {}
    hooks = [
        layer.register_forward_hook(
            lambda _, args, out, name=name: shapes.__setitem__(
                name, LayerShape(args[0].shape, out.shape)
            )
        )
        for name, layer in net.named_children()
    ]
    was_training = net.training
    parameter = next(net.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    try:
        with torch.random.fork_rng(devices=[]):
            net.eval()(torch.zeros(2, *sample_shape, device=device))
    finally:
        net.train(was_training)
        for hook in hooks:
            hook.remove()
    return shapes
