import math

import pytest
import torch

from bench.config import DataConfig
from bench.data import clear_dataset_cache, load_dataset


def test_ring8_modes_lie_on_a_circle_of_radius_2() -> None:
    data = load_dataset(DataConfig(name="ring8", toy_samples=1000))
    assert data.modes.shape == (8, 2) and data.mode_std == 0.02
    assert torch.allclose(data.modes.norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(data.modes[:, 1], data.modes[:, 0]).remainder(2 * math.pi).sort().values
    assert torch.allclose(angles, torch.arange(8) * math.pi / 4, atol=1e-5)


def test_grid25_modes_are_the_5x5_grid() -> None:
    data = load_dataset(DataConfig(name="grid25", toy_samples=1000))
    assert data.mode_std == 0.05
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(m) for m in data.modes.tolist()} == expected


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_points_scatter_around_every_mode_with_the_stated_std(name: str) -> None:
    data = load_dataset(DataConfig(name=name, toy_samples=5000))
    assert data.train.shape == data.test.shape == (5000, 2) and data.shape == (2,)
    for points in (data.train, data.test):
        nearest = torch.cdist(points, data.modes).argmin(dim=1)
        residual = points - data.modes[nearest]
        assert torch.bincount(nearest, minlength=len(data.modes)).min() > 0
        assert residual.std().item() == pytest.approx(data.mode_std, rel=0.05)
        assert residual.norm(dim=1).max() < 6 * data.mode_std


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_toy_data_is_fixed_and_unlabelled(name: str) -> None:
    first = load_dataset(DataConfig(name=name))
    clear_dataset_cache()
    second = load_dataset(DataConfig(name=name, image_size=16))
    assert torch.equal(first.train, second.train) and first.version == second.version
    assert not torch.equal(first.train, first.test)
    assert first.train_labels is None and first.num_classes is None
    assert first.capabilities == {"toy2d"}


def test_sample_count_changes_the_version() -> None:
    small = load_dataset(DataConfig(name="ring8", toy_samples=100))
    large = load_dataset(DataConfig(name="ring8", toy_samples=200))
    assert len(small.train) == 100 and small.version != large.version
