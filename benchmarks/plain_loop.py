"""The yardstick for the harness's speed: a plain eager DCGAN loop, as one would write it.

Same nets (`bench.models.build_models`), data, batch size, Adam settings, non-saturating BCE
loss and D-then-G order as the harness's baseline job; no tricks, no statistics, no log
points. On CUDA, Adam is fused (the fast eager setting); nothing is captured.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor
from torch.nn.functional import binary_cross_entropy_with_logits as bce

from bench.config import JobConfig
from bench.models import build_models


class PlainLoop:
    """G, D and their optimisers, built once; `run(steps)` trains and returns steps/s."""

    def __init__(self, cfg: JobConfig, data: Tensor, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cfg, self.data, device = cfg, data, data.device
        self.g, self.d = (net.to(device) for net in build_models(cfg.model, data.shape[1:]))
        t = cfg.train
        fused = {"fused": True} if device.type == "cuda" else {}
        self.opt_g = torch.optim.Adam(self.g.parameters(), t.lr_g, (t.beta1, t.beta2), **fused)
        self.opt_d = torch.optim.Adam(self.d.parameters(), t.lr_d, (t.beta1, t.beta2), **fused)
        self.rng = torch.Generator(device=device).manual_seed(seed)

    def step(self) -> None:
        n, device, latent = self.cfg.train.batch_size, self.data.device, self.cfg.model.latent_dim
        index = torch.randint(0, len(self.data), (n,), generator=self.rng, device=device)
        real = self.data[index]
        z = torch.randn(n, latent, generator=self.rng, device=device)
        with torch.no_grad():
            fake = self.g(z)
        real_logits, fake_logits = self.d(real), self.d(fake)
        d_loss = bce(real_logits, torch.ones_like(real_logits)) + bce(
            fake_logits, torch.zeros_like(fake_logits)
        )
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        z = torch.randn(n, latent, generator=self.rng, device=device)
        logits = self.d(self.g(z))
        g_loss = bce(logits, torch.ones_like(logits))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()

    def run(self, steps: int) -> float:
        """Train `steps` iterations; returns iterations per second (device synchronised)."""
        sync = torch.cuda.synchronize if self.data.device.type == "cuda" else lambda: None
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        sync()
        return steps / (time.perf_counter() - start)
