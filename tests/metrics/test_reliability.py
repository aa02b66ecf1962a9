"""A near-chance scoring backbone: the rule, and `bench run`'s warning before any job starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.metrics.reliability import MIN_SKILL, judge
from bench.run.suite import prepare_suite


@pytest.mark.parametrize(
    ("accuracy", "classes", "skill", "reliable"),
    [
        (0.567, 2, 0.134, False),  # the 600-image two-class folder of the issue
        (0.75, 2, 0.5, True),
        (0.55, 10, 0.5, True),  # the same skill needs less accuracy with more classes
        (0.5, 10, 0.444, False),
        (0.9721, 10, 0.969, True),  # digits' measured backbone
        (1.0, 1, 0.0, False),  # one class: accuracy says nothing
    ],
)
def test_skill_is_accuracy_above_chance(accuracy, classes, skill, reliable) -> None:
    judged = judge(accuracy, classes)
    assert judged.skill == pytest.approx(skill, abs=1e-3)
    assert judged.reliable is reliable
    assert (judged.skill >= MIN_SKILL) is reliable


@pytest.mark.parametrize(
    ("accuracy", "classes"),
    [(None, 2), (0.6, None), ("0.6", 2), (1.5, 2), (0.6, 2.5), (float("nan"), 2), (True, 2)],
)
def test_implausible_records_are_not_judged(accuracy, classes) -> None:
    assert judge(accuracy, classes) is None


def noise_folder(root: Path, per_class: int = 150) -> Path:
    """Two class folders of 8x8 gray noise: labels no classifier can learn (chance: 0.5)."""
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels, mode="L").save(root / name / f"{i}.png")
    return root


def test_bench_run_warns_of_a_near_chance_backbone_before_any_job(
    tiny_suite: Path, tmp_path: Path
) -> None:
    root = noise_folder(tmp_path / "noise")
    lines: list[str] = []
    sets = ["data.name=folder", f"data.root={root}", "data.image_size=8"]
    prepared = prepare_suite(tiny_suite, sets, tmp_path / "results", warn=lines.append)
    assert prepared.jobs
    warnings = [line for line in lines if "backbone" in line]
    assert len(warnings) == 1 and "\n" not in warnings[0], lines
    assert "dataset 'folder'" in warnings[0] and "chance 0.500 with 2 classes" in warnings[0]
    assert "test accuracy 0." in warnings[0] and "unreliable" in warnings[0]


def test_a_good_backbone_gives_no_warning(tiny_suite: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    prepare_suite(tiny_suite, [], tmp_path / "results", warn=lines.append)
    assert not [line for line in lines if "backbone" in line], lines
