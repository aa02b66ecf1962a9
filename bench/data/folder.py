"""`folder`: PNG/JPEG images at `data.root`, flat (unlabelled) or one subfolder per class.

The class layout follows torchvision's `ImageFolder` (class index = position of the subfolder
name in sorted order). Images are resized on their shorter side and centre-cropped to
`data.image_size` (default 64); they load as grayscale when every image is, else as RGB.
A fixed 90/10 train/test split (permutation seed 0) is drawn over the sorted file list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor
from tqdm import tqdm

from bench.config import DataConfig
from bench.data.base import Dataset, register
from bench.data.images import ImageSplits, image_dataset, split_source
from bench.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
GRAYSCALE_MODES = {"1", "L", "LA"}
TEST_FRACTION = 0.1
DEFAULT_SIZE = 64


def image_files(folder: Path) -> list[Path]:
    """The PNG/JPEG files directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def scan(root_text: str | None) -> tuple[list[Path], list[int] | None, list[str]]:
    """The image files at `root`, their class indices (None when flat) and the class names."""
    if not root_text:
        raise DataError(
            "dataset 'folder' needs data.root, a folder of PNG/JPEG images; "
            "use --set data.root=PATH"
        )
    root = Path(root_text).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset 'folder': data.root='{root_text}' is not a folder")
    flat = image_files(root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and image_files(d))
    if flat and classes:
        raise DataError(
            f"dataset 'folder': data.root='{root_text}' holds both images and class "
            "subfolders; put every image in a class subfolder, or none of them"
        )
    if flat:
        return flat, None, []
    if not classes:
        raise DataError(
            f"dataset 'folder': no PNG/JPEG images in data.root='{root_text}' "
            "or in its immediate subfolders"
        )
    files = [(path, index) for index, c in enumerate(classes) for path in image_files(root / c)]
    return [path for path, _ in files], [index for _, index in files], classes


def folder_capabilities(root: str) -> frozenset[str]:
    """Always "images"; "labels" too when the folder has class subfolders (decodes nothing)."""
    _, labels, _ = scan(root)
    return frozenset({"images"} if labels is None else {"images", "labels"})


def open_image(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"dataset 'folder': cannot read image {path} ({err})") from None


def common_mode(paths: list[Path]) -> str:
    """The PIL mode to load as: "L" when every image is grayscale, else "RGB" (headers only)."""
    for path in paths:
        with open_image(path) as image:
            if image.mode not in GRAYSCALE_MODES:
                return "RGB"
    return "L"


def read_images(paths: list[Path], size: int) -> Tensor:
    """Decode, fit (resize shorter side + centre-crop) and stack images as uint8 [N,C,S,S]."""
    mode = common_mode(paths)
    pixels = []
    for path in tqdm(paths, desc="reading images", unit="img", disable=len(paths) < 1000):
        with open_image(path) as image:
            try:
                fitted = ImageOps.fit(image.convert(mode), (size, size), Image.Resampling.BILINEAR)
            except OSError as err:
                raise DataError(f"dataset 'folder': cannot decode image {path} ({err})") from None
        pixels.append(np.asarray(fitted))
    stacked = torch.from_numpy(np.stack(pixels))
    return stacked.unsqueeze(1) if mode == "L" else stacked.permute(0, 3, 1, 2)


@register(
    "folder",
    kind="image",
    capabilities={"images"},
    image_size=DEFAULT_SIZE,
    probe=folder_capabilities,
)
def folder(cfg: DataConfig) -> Dataset:
    paths, labels, classes = scan(cfg.root)
    size = cfg.image_size or DEFAULT_SIZE
    images = read_images(paths, size)
    label_tensor = None if labels is None else torch.tensor(labels)
    train, test, train_labels, test_labels = split_source(images, label_tensor, TEST_FRACTION)
    splits = ImageSplits(train, test, train_labels, test_labels, len(classes) or None)
    return image_dataset("folder", splits, size)
