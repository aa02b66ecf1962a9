"""A G update gathers a real batch only for the tricks that declare they read it.

`Trick.reads_real_in_g_step` must be set exactly where a trick's G-phase hooks read
`terms.real` or `terms.real_labels`: every other trick trains with them absent, every trick
that sets it fails without them. Gathering or not changes no number: the batch's indices are
drawn either way, so the job's RNG stream is the same.
"""

from __future__ import annotations

import pytest
import torch

from bench.data import load_dataset
from bench.train.loop import TrainOutcome, train
from bench.tricks.registry import (
    LossTerms,
    TrainContext,
    Trick,
    TrickParams,
    all_tricks,
    build_tricks,
    resolve_tricks,
)

CPU = torch.device("cpu")


class Withhold(Trick):
    """First at `g_loss`: takes the real batch out of G updates' terms, whatever gathered it."""

    name = "withhold_real"
    family = "test"
    citation = "test"

    def g_loss(self, loss: torch.Tensor, terms: LossTerms, ctx: TrainContext) -> torch.Tensor:
        terms.real = terms.real_labels = None
        return loss


class SeesReal(Trick):
    """Records whether each G update's terms held a real batch."""

    name = "sees_real"
    family = "test"
    citation = "test"

    def setup(self, ctx: TrainContext) -> None:
        self.seen: list[bool] = []

    def g_loss(self, loss: torch.Tensor, terms: LossTerms, ctx: TrainContext) -> torch.Tensor:
        self.seen.append(terms.real is not None)
        return loss


class ReadsReal(SeesReal):
    name = "reads_real"
    reads_real_in_g_step = True


def run(
    tiny_job, spec: dict[str, dict], first: tuple[Trick, ...] = (), steps: int = 2
) -> TrainOutcome:
    """Train `spec` for `steps` iterations with the tricks `first` ahead of it at every hook."""
    cfg = tiny_job(steps=steps, **spec)
    dataset = load_dataset(cfg.data)
    tricks = build_tricks(resolve_tricks(cfg.tricks, "test", dataset.capabilities))
    labels, classes = dataset.train_labels, dataset.num_classes
    return train(cfg, 0, dataset.train, [*first, *tricks], CPU, labels=labels, num_classes=classes)


@pytest.mark.parametrize("name", sorted(all_tricks()))
def test_only_tricks_that_declare_it_read_the_real_batch_in_g_updates(
    tiny_job, trick_alone, name: str
) -> None:
    """Withheld even where the nets take the real batch as input image (pix2pix gathers it)."""
    withheld = (Withhold(TrickParams()),)
    if all_tricks()[name].reads_real_in_g_step:
        with pytest.raises((TypeError, AttributeError)):
            run(tiny_job, trick_alone(name), withheld)
    else:
        outcome = run(tiny_job, trick_alone(name), withheld)
        assert outcome.status in {"ok", "diverged"}


def test_g_updates_gather_a_real_batch_only_for_a_trick_that_reads_it(tiny_job) -> None:
    sees, reads = SeesReal(TrickParams()), ReadsReal(TrickParams())
    run(tiny_job, {}, (sees,))
    run(tiny_job, {}, (reads,))
    assert sees.seen == [False, False] and reads.seen == [True, True]


def test_gathering_the_real_batch_or_not_changes_no_number(tiny_job) -> None:
    skipped = run(tiny_job, {}, (SeesReal(TrickParams()),), steps=10)
    gathered = run(tiny_job, {}, (ReadsReal(TrickParams()),), steps=10)
    assert skipped.history == gathered.history
    for a, b in zip(skipped.generator.parameters(), gathered.generator.parameters(), strict=True):
        assert torch.equal(a, b)
