"""Designs expand to the right jobs; ids are stable; invalid combinations are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_suite
from bench.errors import ConfigError
from bench.expand import expand
from bench.run.suite import suite_metadata

HEADER = """
[suite]
name = "designs"
design = "{design}"
seeds = [0, 1, 2]

[base.train]
steps = 10
"""
THREE_TRICKS = """
[tricks.one_sided_label_smoothing]
[tricks.instance_noise]
levels = [{sigma = 0.1}, {sigma = 0.3}]
[tricks.uniform_latent]
"""


def suite_file(tmp_path: Path, design: str, body: str = THREE_TRICKS) -> Path:
    path = tmp_path / f"{design}.toml"
    path.write_text(HEADER.format(design=design) + body)
    return path


def variants_of(path: Path, *overrides: str) -> list[str]:
    jobs = expand(load_suite(path, list(overrides)), str(path))
    return sorted({job.variant for job in jobs})


@pytest.mark.parametrize(
    ("design", "n_variants"),
    [
        ("one_at_a_time", 1 + 1 + 2 + 1),  # baseline + each level alone
        ("leave_one_out", 1 + 3),  # all + all-minus-each
        ("grid", 2 * 3 * 2),  # (off + levels) per trick
    ],
)
def test_design_counts(tmp_path: Path, design: str, n_variants: int) -> None:
    path = suite_file(tmp_path, design)
    jobs = expand(load_suite(path), str(path))
    assert len({job.variant for job in jobs}) == n_variants
    assert len(jobs) == n_variants * 3


def test_variants_design_adds_the_baseline(tmp_path: Path) -> None:
    body = """
[variants.more_d]
set = { "train.d_steps" = 3 }
[variants.smoothed]
tricks = { one_sided_label_smoothing = { real_target = 0.8 } }
"""
    path = suite_file(tmp_path, "variants", body)
    jobs = expand(load_suite(path), str(path))
    by_variant = {job.variant: job for job in jobs}
    assert sorted(by_variant) == ["baseline", "more_d", "smoothed"]
    assert by_variant["more_d"].config.train.d_steps == 3
    assert by_variant["smoothed"].config.tricks == {
        "one_sided_label_smoothing": {"real_target": 0.8}
    }


def test_leave_one_out_removes_exactly_one_trick(tmp_path: Path) -> None:
    path = suite_file(tmp_path, "leave_one_out")
    jobs = {job.variant: job for job in expand(load_suite(path), str(path))}
    assert set(jobs["all"].config.tricks) == {
        "one_sided_label_smoothing",
        "instance_noise",
        "uniform_latent",
    }
    assert set(jobs["without_uniform_latent"].config.tricks) == {
        "one_sided_label_smoothing",
        "instance_noise",
    }


def test_job_ids_are_stable_and_depend_on_config_and_seed(tmp_path: Path) -> None:
    path = suite_file(tmp_path, "one_at_a_time")
    first = [job.id for job in expand(load_suite(path), str(path))]
    again = [job.id for job in expand(load_suite(path), str(path))]
    longer = [job.id for job in expand(load_suite(path, ["train.steps=11"]), str(path))]
    assert first == again
    assert len(set(first)) == len(first)  # seeds and variants all differ
    assert not set(first) & set(longer)


def test_conflicting_tricks_are_refused_naming_both(tmp_path: Path) -> None:
    body = "[tricks.one_sided_label_smoothing]\n[tricks.soft_labels]\n"
    path = suite_file(tmp_path, "grid", body)
    with pytest.raises(ConfigError, match="'one_sided_label_smoothing' and 'soft_labels'"):
        expand(load_suite(path), str(path))


def test_unknown_trick_lists_known_tricks(tmp_path: Path) -> None:
    path = suite_file(tmp_path, "one_at_a_time", "[tricks.label_smoothing]\n")
    with pytest.raises(ConfigError, match="unknown trick 'label_smoothing'; known tricks: "):
        expand(load_suite(path), str(path))


def test_bad_trick_parameter_names_the_key(tmp_path: Path) -> None:
    path = suite_file(tmp_path, "one_at_a_time", "[tricks.noisy_labels]\nflip_probabilty = 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'tricks.noisy_labels.flip_probabilty'"):
        expand(load_suite(path), str(path))


def test_identical_variants_are_refused(tmp_path: Path) -> None:
    body = '[variants.a]\nset = { "train.steps" = 10 }\n'
    path = suite_file(tmp_path, "variants", body)
    with pytest.raises(ConfigError, match="'baseline' and 'a' resolve to the same config"):
        expand(load_suite(path), str(path))


def test_expectations_name_real_non_reference_variants(tmp_path: Path) -> None:
    path = suite_file(
        tmp_path,
        "one_at_a_time",
        THREE_TRICKS + '[expect.uniform_latent]\ndirection = "no effect"\nsource = "DCGAN"\n',
    )
    suite = load_suite(path)
    assert suite.expect["uniform_latent"].direction == "no effect"
    expand(suite, str(path))
    for name, message in [("baseline", "reference variant"), ("typo", "no such variant")]:
        bad = suite_file(tmp_path, "one_at_a_time", THREE_TRICKS)
        bad.write_text(bad.read_text() + f'[expect.{name}]\ndirection = "helps"\nsource = "x"\n')
        with pytest.raises(ConfigError, match=message):
            expand(load_suite(bad), str(bad))
    bad.write_text(bad.read_text().replace('"helps"', '"better"'))
    with pytest.raises(ConfigError, match="expect"):
        load_suite(bad)


LEVEL_CLAIMS = """
[expect.instance_noise]
direction = "helps"
source = "Sonderby et al. 2017"
[expect."instance_noise(sigma=0.3)"]
direction = "hurts"
source = "too much noise"
"""


def test_an_expectation_on_a_trick_with_levels_applies_to_each_level(tmp_path: Path) -> None:
    """Unless a level states its own; the resolved claims, by variant, are what suite.json
    records for the report."""
    path = suite_file(tmp_path, "one_at_a_time", THREE_TRICKS + LEVEL_CLAIMS)
    suite = load_suite(path)
    expand(suite, str(path))
    meta = suite_metadata(suite, path, [])
    assert {variant: claim["direction"] for variant, claim in meta["expect"].items()} == {
        "instance_noise(sigma=0.1)": "helps",
        "instance_noise(sigma=0.3)": "hurts",
    }


def test_a_trick_expectation_needs_its_level_variants(tmp_path: Path) -> None:
    path = suite_file(tmp_path, "leave_one_out", THREE_TRICKS + LEVEL_CLAIMS)
    with pytest.raises(ConfigError, match=r"expect.instance_noise: no variant 'instance_noise"):
        expand(load_suite(path), str(path))
