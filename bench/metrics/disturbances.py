"""The image disturbances of Heusel et al. (2017), "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium", Fig. 1 / Appendix: a metric that is worth trusting grows
monotonically with each of them.

Every disturbance maps images [N, C, H, W] in [-1, 1] and a level to disturbed images, seeded
by the `torch.Generator` it is given. Levels are fractions, so one table serves 8 and 32 px:
Gaussian noise mixes in N(0, 1) noise, (1 - a) x + a n; Gaussian blur has standard deviation
a * size; black rectangles (five per image, as in the paper) have side a * size; salt and
pepper sets a fraction a of pixels to black or white; mixing replaces a fraction a of the
images with crops of two natural photographs shipped with scikit-learn (standing in for the
paper's ImageNet contamination of CelebA). Black is pixel value 0, i.e. -1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.data.images import resize

Disturbance = Callable[[Tensor, float, torch.Generator], Tensor]
RECTANGLES_PER_IMAGE = 5
# Level 0 (the undisturbed images) and four increasing levels of each disturbance.
LEVELS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.0, 0.1, 0.25, 0.5, 0.75),
    "gaussian_blur": (0.0, 1 / 20, 1 / 16, 1 / 12, 1 / 8),
    "black_rectangles": (0.0, 0.125, 0.25, 0.375, 0.5),
    "salt_and_pepper": (0.0, 0.05, 0.1, 0.2, 0.3),
    "mix_other_images": (0.0, 0.1, 0.25, 0.5, 0.75),
}


def gaussian_noise(images: Tensor, level: float, generator: torch.Generator) -> Tensor:
    noise = torch.randn(images.shape, generator=generator).clamp(-1, 1)
    return (1 - level) * images + level * noise


def gaussian_blur(images: Tensor, level: float, generator: torch.Generator) -> Tensor:
    """Separable Gaussian blur of std `level * size` px, replicate padding (any kernel size)."""
    sigma = level * images.shape[-1]
    if sigma == 0:
        return images.clone()
    radius = math.ceil(3 * sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    n, c, h, w = images.shape
    x = images.reshape(n * c, 1, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return x.reshape(n, c, h, w)


def black_rectangles(images: Tensor, level: float, generator: torch.Generator) -> Tensor:
    """Five black squares of side `level * size` at uniformly random positions per image."""
    out = images.clone()
    n, _, h, w = images.shape
    side = round(level * min(h, w))
    if side == 0:
        return out
    rows = torch.randint(h - side + 1, (n, RECTANGLES_PER_IMAGE), generator=generator)
    cols = torch.randint(w - side + 1, (n, RECTANGLES_PER_IMAGE), generator=generator)
    y = torch.arange(h).view(1, 1, h, 1)
    x = torch.arange(w).view(1, 1, 1, w)
    r, c = rows.view(n, -1, 1, 1), cols.view(n, -1, 1, 1)
    covered = ((y >= r) & (y < r + side) & (x >= c) & (x < c + side)).any(dim=1)
    return out.masked_fill(covered.unsqueeze(1), -1.0)


def salt_and_pepper(images: Tensor, level: float, generator: torch.Generator) -> Tensor:
    """A fraction `level` of pixel positions set to black or white (all channels alike)."""
    n, _, h, w = images.shape
    hit = torch.rand(n, 1, h, w, generator=generator) < level
    value = torch.randint(2, (n, 1, h, w), generator=generator).to(images.dtype) * 2 - 1
    return torch.where(hit, value, images)


def mix_other_images(images: Tensor, level: float, generator: torch.Generator) -> Tensor:
    """A random fraction `level` of the images replaced by crops of natural photographs."""
    out = images.clone()
    count = round(level * len(images))
    replaced = torch.randperm(len(images), generator=generator)[:count]
    out[replaced] = photo_crops(count, tuple(images.shape[1:]), generator)
    return out


def photo_crops(count: int, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """`count` random square crops (1/8 of the photo's height) of scikit-learn's two photos."""
    from sklearn.datasets import load_sample_images

    channels, size = shape[0], shape[-1]
    photos = [
        torch.tensor(photo).permute(2, 0, 1).float() / 127.5 - 1
        for photo in load_sample_images().images
    ]
    side = photos[0].shape[1] // 8
    crops = []
    for _ in range(count):
        photo = photos[int(torch.randint(len(photos), (), generator=generator))]
        top = int(torch.randint(photo.shape[1] - side + 1, (), generator=generator))
        left = int(torch.randint(photo.shape[2] - side + 1, (), generator=generator))
        crops.append(photo[:, top : top + side, left : left + side])
    batch = resize(torch.stack(crops), size) if crops else torch.empty(0, 3, size, size)
    return batch.mean(dim=1, keepdim=True) if channels == 1 else batch


DISTURBANCES: dict[str, Disturbance] = {
    "gaussian_noise": gaussian_noise,
    "gaussian_blur": gaussian_blur,
    "black_rectangles": black_rectangles,
    "salt_and_pepper": salt_and_pepper,
    "mix_other_images": mix_other_images,
}


def disturb(images: Tensor, name: str, level: float, seed: int = 0) -> Tensor:
    """`images` with disturbance `name` at `level`, reproducibly (a generator seeded `seed`)."""
    return DISTURBANCES[name](images, level, torch.Generator().manual_seed(seed))
