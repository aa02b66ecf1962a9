"""EMA of G: the decay warms up, BatchNorm statistics are averaged, and the average wins."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from bench.data import load_dataset
from bench.metrics import evaluate
from bench.run.job.sampler import Sampler
from bench.train.loop import train
from bench.tricks.history import warmup_decay
from bench.tricks.registry import build_tricks, resolve_tricks

SEEDS = 5


def test_ema_decay_warms_up_as_tensorflow_num_updates() -> None:
    steps = torch.tensor([0.0, 1.0, 10.0, 90.0, 1000.0, 1e5])
    expected = [0.1, 2 / 11, 11 / 20, 0.91, 1001 / 1010, 0.999]  # min(0.999, (1+t)/(10+t))
    assert warmup_decay(0.999, steps).tolist() == pytest.approx(expected)


def test_ema_forgets_the_initial_weights_and_averages_batchnorm_statistics(make_trick, ctx) -> None:
    trick = make_trick("ema_generator", decay=0.999)
    trick.setup(ctx)
    g = nn.BatchNorm1d(1)
    last = 299
    for step in range(last + 1):
        ctx.step.fill_(step)
        scale = 0.0 if step == 0 else (2.0 if step == last else 1.0)
        with torch.no_grad():
            g.weight.fill_(scale)
            g.running_mean.fill_(5.0 * scale)
        g.num_batches_tracked.fill_(step)
        trick.after_step(g, nn.Identity(), ctx)
    scored = trick.evaluation_generator(g, ctx)
    # Without the warm-up the step-0 weights (0) would keep 0.999^299 = 0.74 of the average;
    # with it they keep prod (1+t)/(10+t) ~ 1e-7. The last step moves it by 1 - 300/309.
    expected = 1.0 + (1.0 - 300 / 309)
    assert scored.weight.item() == pytest.approx(expected, rel=1e-4)
    assert scored.running_mean.item() == pytest.approx(5.0 * expected, rel=1e-4)  # averaged
    assert scored.num_batches_tracked.item() == last  # counters are copied


@pytest.mark.slow
def test_ema_of_g_beats_the_raw_g_in_most_seeds(tiny_job) -> None:
    """A noisy, fast-moving G (lr 1e-3, 400 steps): the average scores a lower FID than G."""
    cfg = tiny_job(steps=400, ema_generator={"decay": 0.999})
    cfg = cfg.model_copy(
        update={
            "model": cfg.model.model_copy(update={"latent_dim": 32, "g_width": 32, "d_width": 32}),
            "train": cfg.train.model_copy(
                update={"batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3, "log_every": 50}
            ),
            "eval": cfg.eval.model_copy(update={"num_samples": 1000}),
        }
    )
    dataset = load_dataset(cfg.data)
    wins = 0
    for seed in range(SEEDS):
        tricks = build_tricks(resolve_tricks(cfg.tricks, "test", dataset.capabilities))
        outcome = train(cfg, seed, dataset.train, tricks, torch.device("cpu"))
        fid = {}
        for name, scored in (("raw", replace(outcome, tricks=[])), ("ema", outcome)):
            sampler = Sampler(scored, 0, dataset.test)
            result = evaluate(sampler.generate, dataset, cfg.eval, torch.device("cpu"))
            fid[name] = result.values["fid"]
        wins += fid["ema"] < fid["raw"]
    assert wins >= SEEDS - 1, f"EMA beat the raw G in {wins} of {SEEDS} seeds"
