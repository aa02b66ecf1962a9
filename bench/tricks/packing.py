"""PacGAN: D judges packs of m samples jointly, all real or all fake."""

from __future__ import annotations

from pydantic import Field
from torch import Tensor, nn

from bench.errors import ConfigError
from bench.models.surgery import fresh, insert_first, require_layer, require_sequential
from bench.tricks.registry import TrainContext, Trick, TrickParams, register

PER_SAMPLE_D = "it needs one D output per sample; a packed D gives one per pack"
PER_SAMPLE_LABELS = "packed samples do not share one label (or input image) D could take"


class PackingParams(TrickParams):
    packing: int = Field(2, ge=2, le=16, description="m: samples per pack (PacGAN2: 2)")


class Pack(nn.Module):
    """[N, C, ...] -> [N / m, m * C, ...]: m consecutive samples concatenated along channels."""

    def __init__(self, packing: int) -> None:
        super().__init__()
        self.packing = packing

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0] // self.packing, self.packing * x.shape[1], *x.shape[2:])


@register
class Packing(Trick):
    """Show D packs of `packing` samples concatenated (all real or all fake), one logit a pack.

    Lin et al. (2018), "PacGAN: The Power of Two Samples in Generative Adversarial Networks",
    sec. 3: the packed D sees the product distribution of m samples, which penalises mode
    collapse; only D's input layer grows (m times the channels or inputs). m = 2 (PacGAN2),
    the paper's main setting. G's loss is averaged over packs. The batch size must be a
    multiple of m.
    """

    name = "packing"
    capturable = True
    family = "architecture"
    citation = "Lin et al. 2018, PacGAN, sec. 3 (m = 2)"
    Params = PackingParams
    conflicts = {
        "rejection_sampling": PER_SAMPLE_D,
        "langevin_refinement": PER_SAMPLE_D,
        "top_k_training": PER_SAMPLE_D,
        "fully_connected_ends": "both rebuild D's input layer",
        "mixed_batches": "D sees real and fake in one batch, whose logits are split by size",
    }
    refuses_conditioning = dict.fromkeys(("labels", "condition_image"), PER_SAMPLE_LABELS)
    order = 12  # after discriminator_capacity rebuilds D, before rewrites that add layers

    def setup(self, ctx: TrainContext) -> None:
        if ctx.batch_size % self.params.packing:
            raise ConfigError(
                f"trick '{self.name}': train.batch_size ({ctx.batch_size}) must be a multiple "
                f"of packing ({self.params.packing})"
            )

    def build_discriminator(self, discriminator: nn.Module, ctx: TrainContext) -> nn.Module:
        net = require_sequential(discriminator, self.name)
        m = self.params.packing
        if "from_image" in net._modules:
            old = net.from_image
            wider = nn.Conv2d(
                m * old.in_channels, old.out_channels, old.kernel_size, old.stride,
                old.padding, bias=old.bias is not None,
            )  # fmt: skip
            name = "from_image"
        else:
            old = require_layer(net, "fc0", self.name)
            wider = nn.Linear(m * old.in_features, old.out_features, bias=old.bias is not None)
            name = "fc0"
        net._modules[name] = fresh(wider).to(next(old.parameters()).device)
        insert_first(net, "pack", Pack(m))
        return net
