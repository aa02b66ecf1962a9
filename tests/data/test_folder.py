from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.config import DataConfig, ModelConfig
from bench.data import dataset_capabilities, load_dataset
from bench.errors import DataError
from bench.models import build_models


def write_png(path: Path, mode: str, size: tuple[int, int], value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(path)


def test_flat_folder_is_unlabelled_rgb_split_90_10(tmp_path: Path) -> None:
    for i in range(20):
        write_png(tmp_path / f"img{i:02d}.png", "RGB", (40 + i, 30), value=10 * i)
    data = load_dataset(DataConfig(name="folder", root=str(tmp_path)))
    assert data.train.shape == (18, 3, 64, 64) and data.test.shape == (2, 3, 64, 64)
    assert data.train_labels is None and data.num_classes is None
    assert data.capabilities == {"images"}
    assert data.train[:, 2].max() == 1 and data.train.min() >= -1


def test_class_subfolders_give_labels_and_grayscale(tmp_path: Path) -> None:
    for label, name in enumerate(["cat", "dog"]):
        for i in range(10):
            write_png(tmp_path / name / f"{i}.png", "L", (16, 24), value=200 * label)
    data = load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=16))
    assert data.shape == (1, 16, 16) and data.num_classes == 2
    images = torch.cat([data.train, data.test])
    labels = torch.cat([data.train_labels, data.test_labels])
    expected = torch.where(labels == 1, 200 / 127.5 - 1, -1.0)
    assert torch.allclose(images.mean(dim=(1, 2, 3)), expected)
    assert dataset_capabilities("folder", str(tmp_path)) == {"images", "labels"}


def test_centre_crop_keeps_the_middle_of_wide_images(tmp_path: Path) -> None:
    pixels = np.zeros((20, 60), dtype=np.uint8)
    pixels[:, 20:40] = 255  # the centre third is white, the sides black
    for i in range(2):
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    data = load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=16))
    assert data.train.min() > 0.5  # without the crop, two thirds would be -1


def test_mixed_modes_load_as_rgb(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png", "L", (8, 8), value=0)
    write_png(tmp_path / "b.jpg", "RGB", (8, 8), value=0)
    data = load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8))
    assert data.shape == (3, 8, 8)


@pytest.mark.parametrize("root", [None, "missing", "empty"])
def test_missing_or_empty_root_is_a_data_error(tmp_path: Path, root: str | None) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    path = None if root is None else str(tmp_path / root)
    with pytest.raises(DataError, match=r"data\.root"):
        load_dataset(DataConfig(name="folder", root=path))


def test_unreadable_image_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read image"):
        load_dataset(DataConfig(name="folder", root=str(tmp_path)))


def test_a_folder_loads_at_128_px_and_resnet_and_dcgan_build_there(tmp_path: Path) -> None:
    for i in range(4):
        write_png(tmp_path / f"img{i}.png", "RGB", (160, 140), value=50 * i)
    data = load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=128))
    assert data.shape == (3, 128, 128)
    for arch in ("dcgan", "resnet"):
        cfg = ModelConfig(arch=arch, latent_dim=4, g_width=4, d_width=4)
        generator, discriminator = build_models(cfg, data.shape)
        assert discriminator(generator(torch.randn(2, 4))).shape == (2,)
