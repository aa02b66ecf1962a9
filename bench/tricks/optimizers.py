"""Optimiser tricks: SGD for D, two time-scale learning rates."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from bench.tricks.registry import Role, TrainContext, Trick, TrickParams, register


class SGDParams(TrickParams):
    lr: float = Field(0.01, gt=0.0, le=1.0, description="D's SGD learning rate (no source)")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="SGD momentum")


@register
class SGDDiscriminator(Trick):
    """Train D with plain SGD while G keeps Adam.

    ganhacks (Chintala et al. 2016), tip 9: "Use SGD for discriminator and ADAM for
    generator". The tip gives no learning rate; 0.01 without momentum is this harness's
    default, a parameter to sweep.
    """

    name = "sgd_discriminator"
    family = "optimisation"
    citation = "ganhacks (Chintala et al. 2016), tip 9"
    Params = SGDParams
    conflicts = {"ttur": "both set D's learning rate"}
    capturable = True

    def optimizer(
        self, role: Role, optimizer: torch.optim.Optimizer, net: nn.Module, ctx: TrainContext
    ) -> torch.optim.Optimizer:
        if role != "discriminator":
            return optimizer
        return torch.optim.SGD(net.parameters(), lr=self.params.lr, momentum=self.params.momentum)


class TTURParams(TrickParams):
    lr_d: float = Field(4e-4, gt=0.0, le=1.0, description="D's learning rate")
    lr_g: float = Field(1e-4, gt=0.0, le=1.0, description="G's learning rate")


@register
class TTUR(Trick):
    """Two time-scale update rule: D learns faster than G (4e-4 vs 1e-4 by default).

    Heusel et al. (2017), "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
    Nash Equilibrium"; the 4e-4 / 1e-4 pair is the one SAGAN (Zhang et al. 2019) and BigGAN
    adopted from it. Overrides `train.lr_d` and `train.lr_g`.
    """

    name = "ttur"
    family = "optimisation"
    citation = "Heusel et al. 2017 (TTUR); rates as in Zhang et al. 2019 (SAGAN)"
    Params = TTURParams
    capturable = True

    def optimizer(
        self, role: Role, optimizer: torch.optim.Optimizer, net: nn.Module, ctx: TrainContext
    ) -> torch.optim.Optimizer:
        lr = self.params.lr_d if role == "discriminator" else self.params.lr_g
        for group in optimizer.param_groups:
            group["lr"] = lr
        return optimizer


class BalancingParams(TrickParams):
    d_threshold: float = Field(
        1.0, gt=0.0, description="A: while D's loss > A, train only D (no source value)"
    )
    g_threshold: float = Field(
        3.0, gt=0.0, description="B: else while G's loss > B, train only G (no source value)"
    )


@register
class LossThresholdBalancing(Trick):
    """Balance by loss: if D's last loss > A train only D; elif G's last loss > B only G.

    ganhacks (Chintala et al. 2016), tip 14: "Don't balance loss via statistics (unless you
    have a good reason to)" -- "while lossD > A: train D; while lossG > B: train G" is the
    practice it warns against; this trick lets a suite show whether it hurts. The tip gives
    no thresholds: A = 1.0 and B = 3.0 are BCE-scale defaults (equilibrium: 2 log 2 and
    log 2). Reads the last losses on the host every iteration, so it is not capturable.
    """

    name = "loss_threshold_balancing"
    family = "optimisation"
    citation = "ganhacks (Chintala et al. 2016), tip 14 (a practice it advises against)"
    Params = BalancingParams
    capturable = False

    def schedule(self, d_steps: int, g_steps: int, ctx: TrainContext) -> tuple[int, int]:
        if ctx.last_d_loss.item() > self.params.d_threshold:
            return d_steps, 0
        if ctx.last_g_loss.item() > self.params.g_threshold:
            return 0, g_steps
        return d_steps, g_steps
