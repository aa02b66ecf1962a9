"""Output range: data in [0, 1] with a sigmoid output instead of [-1, 1] with tanh."""

from __future__ import annotations

from torch import Tensor, nn

from bench.errors import ConfigError
from bench.tricks.registry import TrainContext, Trick, register


@register
class SigmoidOutput(Trick):
    """Scale data to [0, 1] and end G with a sigmoid instead of tanh (data in [-1, 1]).

    Radford et al. (2016, DCGAN) and ganhacks (Chintala et al. 2016), tip 1 ("normalize the
    images between -1 and 1; tanh as the last layer of the generator output"): this is the
    ablation of that rule. Samples are mapped back to [-1, 1] before scoring.
    """

    name = "sigmoid_output"
    family = "input_output"
    citation = "ganhacks (Chintala et al. 2016), tip 1; Radford et al. 2016"
    needs = frozenset({"images"})
    order = 5
    capturable = True

    def prepare_data(self, data: Tensor, ctx: TrainContext) -> Tensor:
        return (data + 1.0) / 2.0

    def build_generator(self, generator: nn.Module, ctx: TrainContext) -> nn.Module:
        found = [(name, m) for name, m in generator.named_modules() if isinstance(m, nn.Tanh)]
        if not found:
            raise ConfigError("trick 'sigmoid_output' needs a tanh output layer in G; found none")
        parent_name, _, child = found[-1][0].rpartition(".")
        parent = generator.get_submodule(parent_name) if parent_name else generator
        parent._modules[child] = nn.Sigmoid()
        return generator

    def evaluation_output(self, images: Tensor, ctx: TrainContext) -> Tensor:
        return 2.0 * images - 1.0
