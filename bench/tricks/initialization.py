"""Weight initialisation: DCGAN's N(0, 0.02) (the baseline) vs truncated normal or PyTorch's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from bench.tricks.registry import TrainContext, Trick, TrickParams, register

WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


class WeightInitParams(TrickParams):
    kind: Literal["truncated_normal", "default"] = Field(
        "truncated_normal", description="truncated N(0, std) within 2 std, or PyTorch's init"
    )
    std: float = Field(0.02, gt=0.0, le=1.0, description="std of the truncated normal")


def reinitialise(net: nn.Module, kind: str, std: float) -> nn.Module:
    """Re-draw the conv/linear weights of `net` (norm layers too for PyTorch's default)."""
    for layer in net.modules():
        if kind == "default":
            if layer is not net and hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
        elif isinstance(layer, WEIGHTED):
            nn.init.trunc_normal_(layer.weight, 0.0, std, -2 * std, 2 * std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return net


@register
class WeightInit(Trick):
    """Re-initialise G and D: truncated normal, or the framework's default, not N(0, 0.02).

    Radford et al. (2016), DCGAN, sec. 4: weights N(0, 0.02) (the baseline). TensorFlow DCGAN
    implementations draw conv weights from a normal truncated at 2 std
    (`tf.truncated_normal_initializer(stddev=0.02)`); `default` is PyTorch's own init
    (Kaiming-uniform, a = sqrt(5); norm scales 1). Runs after every rewrite of the nets.
    """

    name = "weight_init"
    family = "architecture"
    citation = "Radford et al. 2016, DCGAN, sec. 4 (N(0, 0.02)); TensorFlow truncated normal"
    Params = WeightInitParams
    order = 80
    capturable = True

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        return reinitialise(generator, self.params.kind, self.params.std)

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        return reinitialise(discriminator, self.params.kind, self.params.std)
