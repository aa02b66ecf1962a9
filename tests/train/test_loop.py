"""The training loop: reproducible, runs the configured D/G steps, records divergence."""

from __future__ import annotations

import pytest
import torch

from bench.data import load_dataset
from bench.train.loop import train
from bench.tricks.registry import TrainContext, Trick

CPU = torch.device("cpu")


@pytest.fixture
def digits(tiny_job) -> torch.Tensor:
    return load_dataset(tiny_job().data).train


def test_same_job_same_numbers(tiny_job, digits) -> None:
    first = train(tiny_job(), 3, digits, [], CPU)
    second = train(tiny_job(), 3, digits, [], CPU)
    assert first.history == second.history
    for a, b in zip(first.generator.parameters(), second.generator.parameters(), strict=True):
        assert torch.equal(a, b)


def test_different_seeds_differ(tiny_job, digits) -> None:
    first = train(tiny_job(), 0, digits, [], CPU)
    second = train(tiny_job(), 1, digits, [], CPU)
    assert first.history != second.history


def test_history_records_losses_and_gradient_norms(tiny_job, digits) -> None:
    outcome = train(tiny_job(steps=20), 0, digits, [], CPU)
    assert [row["step"] for row in outcome.history] == [5, 10, 15, 20]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"):
        assert all(torch.isfinite(torch.tensor(row[key])) for row in outcome.history)
    assert outcome.status == "ok" and outcome.steps_completed == 20


class CountUpdates(Trick):
    """Counts D and G updates through the hooks each update calls exactly once."""

    name = "count_updates"
    family = "test"
    citation = "test"

    def setup(self, ctx: TrainContext) -> None:
        self.d_updates = self.g_updates = 0

    def d_loss(self, loss, terms, ctx):
        self.d_updates += 1
        return loss

    def g_loss(self, loss, terms, ctx):
        self.g_updates += 1
        return loss


def test_d_and_g_step_ratio_is_honoured(tiny_job, digits) -> None:
    counter = CountUpdates(CountUpdates.Params())
    cfg = tiny_job(steps=6)
    cfg = cfg.model_copy(
        update={"train": cfg.train.model_copy(update={"d_steps": 3, "g_steps": 2})}
    )
    train(cfg, 0, digits, [counter], CPU)
    assert (counter.d_updates, counter.g_updates) == (18, 12)


class PoisonDiscriminatorLoss(Trick):
    """Adds NaN to D's loss from step 7 on, as a numerically unstable trick would."""

    name = "poison"
    family = "test"
    citation = "test"

    def d_loss(self, loss, terms, ctx):
        return loss + torch.where(ctx.step >= 7, torch.tensor(float("nan")), torch.tensor(0.0))


def test_non_finite_loss_stops_training_as_diverged(tiny_job, digits) -> None:
    outcome = train(tiny_job(steps=20), 0, digits, [PoisonDiscriminatorLoss(Trick.Params())], CPU)
    assert outcome.status == "diverged"
    assert outcome.divergence.detector == "non_finite"
    assert outcome.divergence.step == 10  # detected at the first log point after step 7
    assert outcome.steps_completed == 10


def test_overpowered_discriminator_is_recorded_as_collapsed(tiny_job, digits) -> None:
    """A D with a huge learning rate and a starved G: D's loss goes to zero."""
    cfg = tiny_job(steps=200)
    train_cfg = cfg.train.model_copy(update={"lr_d": 0.05, "lr_g": 1e-6, "d_steps": 5})
    outcome = train(cfg.model_copy(update={"train": train_cfg}), 0, digits, [], CPU)
    assert outcome.status == "diverged"
    assert outcome.divergence.detector in {"d_loss_collapse", "non_finite"}
    assert outcome.steps_completed < 200
