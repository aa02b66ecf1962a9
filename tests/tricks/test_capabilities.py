"""Tricks that interact declare capabilities, and the refused pairs follow from them."""

from __future__ import annotations

import pytest
import torch

from bench.errors import ConfigError
from bench.tricks.registry import (
    TrainContext,
    Trick,
    all_tricks,
    build_tricks,
    resolve_tricks,
    trick_conflicts,
)

EVERYTHING = frozenset({"images", "labels"})
CONDITIONAL = ("conditional_gan", "auxiliary_classifier", "projection_discriminator")
LABEL_TRICKS = ("one_sided_label_smoothing", "soft_labels", "noisy_labels")
NO_TARGETS = ("hinge_loss", "wasserstein_loss")
LATENT_USERS = (
    "truncation",
    "rejection_sampling",
    "langevin_refinement",
    "zcr",
    "latent_optimisation",
)
REFUSED = [  # (trick, other, part of the reason): every pair the lists used to name
    *[(loss, label, "has no targets") for loss in NO_TARGETS for label in LABEL_TRICKS],
    *[("experience_replay", other, "drawn with") for other in (*CONDITIONAL, "pix2pix")],
    *[("packing", other, "do not share one label") for other in (*CONDITIONAL, "pix2pix")],
    *[("vae_gan", other, "unconditional") for other in CONDITIONAL],
    *[("virtual_batch_norm", other, "no label embedding") for other in CONDITIONAL],
    ("conditional_gan", "auxiliary_classifier", "one conditioning scheme"),
    ("conditional_gan", "projection_discriminator", "one conditioning scheme"),
    ("auxiliary_classifier", "projection_discriminator", "one conditioning scheme"),
    *[(other, "pix2pix", "not a latent") for other in LATENT_USERS],
    *[(other, "pix2pix", "against its input") for other in ("bcr", "diffaugment")],
]  # fmt: skip


@pytest.mark.parametrize(("trick", "other", "reason"), REFUSED)
def test_each_pair_the_name_lists_refused_is_refused_with_its_reason(
    trick: str, other: str, reason: str
) -> None:
    known = all_tricks()
    assert reason in trick_conflicts(known[trick], known)[other]
    with pytest.raises(
        ConfigError, match=f"'{trick}' and '{other}' cannot be combined: .*{reason}"
    ):
        resolve_tricks({trick: {}, other: {}}, "suite.toml", EVERYTHING)


class NewConditioning(Trick):
    """A new class-conditional trick in a file of its own (not registered)."""

    name = "new_conditioning"
    conditions_on = frozenset({"labels"})


class NewLabels(Trick):
    """A new label trick in a file of its own (not registered)."""

    name = "new_labels"
    changes_targets = True


def test_a_new_trick_is_refused_where_it_should_be_without_editing_other_tricks() -> None:
    known = {**all_tricks(), "new_conditioning": NewConditioning, "new_labels": NewLabels}
    for refuser in ("experience_replay", "packing", "vae_gan", "conditional_gan"):
        assert "new_conditioning" in trick_conflicts(known[refuser], known), refuser
    for objective in ("hinge_loss", "wasserstein_loss"):
        assert "new_labels" in trick_conflicts(known[objective], known)
    for free in ("least_squares_loss", "truncation", "instance_noise"):
        assert not {"new_conditioning", "new_labels"} & set(trick_conflicts(known[free], known))


def test_compatible_tricks_still_combine() -> None:
    tricks = build_tricks(
        resolve_tricks(
            {"least_squares_loss": {}, "soft_labels": {}, "conditional_gan": {}, "truncation": {}},
            "suite.toml",
            EVERYTHING,
        )
    )
    assert {t.name for t in tricks} == {
        "least_squares_loss", "soft_labels", "conditional_gan", "truncation"
    }  # fmt: skip


@pytest.mark.parametrize("num_classes", [None, 10])
def test_latents_and_labels_are_drawn_labels_first_from_the_given_rng(num_classes) -> None:
    ctx = TrainContext(
        torch.device("cpu"), torch.Generator().manual_seed(0), 1, 8, 4, (1, 8, 8), num_classes
    )
    z, labels = ctx.draw_prior(6, torch.Generator().manual_seed(5))
    expected = torch.Generator().manual_seed(5)
    if num_classes is None:
        assert labels is None
    else:
        assert torch.equal(labels, torch.randint(0, num_classes, (6,), generator=expected))
    assert torch.equal(z, torch.randn(6, 4, generator=expected))
    again, _ = ctx.draw_prior(6)  # the job's RNG by default
    assert again.shape == (6, 4) and not torch.equal(again, z)
