"""WGAN's weight clipping, and the `after_update` hook it runs on: after each optimiser step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from bench.cli import main
from bench.data import load_dataset
from bench.errors import ConfigError
from bench.train.loop import GANStep
from bench.tricks.registry import TrainContext, build_tricks, resolve_tricks

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[2]
WGAN = {"wasserstein_loss": {}}


def gan_step(tiny_job, **tricks: dict) -> GANStep:
    cfg = tiny_job(**tricks)
    dataset = load_dataset(cfg.data)
    torch.manual_seed(0)
    ctx = TrainContext(CPU, torch.Generator().manual_seed(0), 10, 32, 8, dataset.shape)
    return GANStep(
        cfg, dataset.train, build_tricks(resolve_tricks(cfg.tricks, "t", dataset.capabilities)), ctx
    )


def largest_weight(net: nn.Module) -> float:
    return max(float(p.detach().abs().max()) for p in net.parameters())


@pytest.mark.parametrize("clip", [0.01, 0.05])
def test_after_each_d_step_every_d_parameter_is_within_the_clip(tiny_job, clip: float) -> None:
    step = gan_step(tiny_job, **WGAN, wgan_weight_clipping={"clip": clip})
    bound = float(torch.tensor(clip))  # c as a float32 weight holds it
    assert largest_weight(step.discriminator) > clip, "the initial D must need clipping"
    for _ in range(3):
        step.discriminator_step()
        assert largest_weight(step.discriminator) <= bound
        at_bound = [p for p in step.discriminator.parameters() if p.abs().max() == bound]
        assert at_bound, "weights beyond c are set to c, after the step moved them"
        step.generator_step()
    assert largest_weight(step.generator) > clip, "G is not clipped"


def test_without_the_trick_d_leaves_the_clip(tiny_job) -> None:
    step = gan_step(tiny_job, **WGAN)
    step.discriminator_step()
    assert largest_weight(step.discriminator) > 0.01


def test_clipping_needs_the_wasserstein_loss() -> None:
    with pytest.raises(ConfigError, match=r"suite\.toml: trick 'wgan_weight_clipping' needs trick"):
        resolve_tricks({"wgan_weight_clipping": {}}, "suite.toml", frozenset({"images"}))
    with pytest.raises(ConfigError, match="'wasserstein_loss' beside it"):
        resolve_tricks(
            {"hinge_loss": {}, "wgan_weight_clipping": {}}, "suite.toml", frozenset({"images"})
        )


def test_clipping_is_listed_with_what_it_requires(capsys) -> None:
    assert main(["tricks"]) == 0
    listing = capsys.readouterr().out.split("\nwgan_weight_clipping  [losses]")[1]
    assert "requires: wasserstein_loss" in listing.split("citation:")[0]
    assert main(["tricks", "wgan_weight_clipping"]) == 0
    assert "requires wasserstein_loss: " in capsys.readouterr().out


def test_the_loss_functions_suite_compares_clipping_with_the_gradient_penalty(
    capsys, tmp_path: Path
) -> None:
    suite = REPO / "suites" / "loss_functions.toml"
    assert main(["run", str(suite), "--dry-run", "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "wasserstein_clip" in out and "wasserstein_gp" in out
    assert "can reach a verdict" in out
