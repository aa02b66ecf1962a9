"""`data.train_fraction`: a fixed, class-stratified part of the training split."""

from __future__ import annotations

import pytest
import torch

from bench.config import DataConfig, JobConfig, validate
from bench.data import load_dataset
from bench.data.subset import training_subset
from bench.errors import ConfigError


def test_ten_percent_of_the_digits_is_ten_percent_of_each_digit() -> None:
    dataset = load_dataset(DataConfig(name="digits"))
    images, labels = training_subset(dataset.train, dataset.train_labels, 0.1)
    full = torch.bincount(dataset.train_labels)
    assert torch.equal(torch.bincount(labels, minlength=10), (full.float() * 0.1).round().long())
    again, _ = training_subset(dataset.train, dataset.train_labels, 0.1)
    assert torch.equal(images, again)  # the same subset for every job and seed
    unlabelled, _ = training_subset(dataset.train, None, 0.1)
    assert len(unlabelled) == round(0.1 * len(dataset.train))


def test_the_fraction_does_not_change_the_loaded_dataset() -> None:
    """Test split, reference statistics and backbone come from the full data."""
    assert load_dataset(DataConfig(name="digits", train_fraction=0.1)) is load_dataset(
        DataConfig(name="digits")
    )


@pytest.mark.parametrize("bad", [0, 1.5, -0.1])
def test_fractions_outside_0_1_are_refused_naming_the_key(bad: float) -> None:
    with pytest.raises(ConfigError, match=r"data\.train_fraction"):
        validate(JobConfig, {"data": {"train_fraction": bad}}, "suite.toml")
