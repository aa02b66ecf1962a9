"""Suite and variant names fit every file system and show as they are: refused at validation
(one line naming the file and key, exit 2), before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.config import MAX_NAME_BYTES


def suite_named(path: Path, suite_text, name: str, variants: str = "") -> Path:
    design = "variants" if variants else "one_at_a_time"
    rest = variants or "[tricks.one_sided_label_smoothing]\n"
    text = suite_text(
        {"name": name, "design": design, "seeds": [0], "exploratory": "a test"}, rest=rest
    )
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_300_character_suite_name_is_refused_before_anything_is_written(
    capsys, tmp_path: Path, suite_text, dry_run: bool
) -> None:
    suite = suite_named(tmp_path / "long.toml", suite_text, "s" * 300)
    results = tmp_path / "results"
    argv = ["run", str(suite), "--results", str(results), "--device", "cpu", "--quiet"]
    assert main(argv + (["--dry-run"] if dry_run else [])) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(suite) in err and "suite.name" in err
    assert f"at most {MAX_NAME_BYTES} characters" in err and "(300 characters)" in err
    assert not results.exists()


def test_a_suite_name_of_the_limit_is_accepted(capsys, tmp_path: Path, suite_text) -> None:
    suite = suite_named(tmp_path / "long.toml", suite_text, "s" * MAX_NAME_BYTES)
    assert main(["run", str(suite), "--results", str(tmp_path / "r"), "--dry-run"]) == 0


@pytest.mark.parametrize(
    ("name", "code"),
    [("a\\u0000b", "U+0000"), ("evil\\u202Eetiv", "U+202E"), ("tab\\there", "U+0009"),
     ("zero\\u200Bwidth", "U+200B")],
)  # fmt: skip
def test_a_variant_name_with_a_control_or_format_character_is_refused(
    capsys, tmp_path: Path, suite_text, name: str, code: str
) -> None:
    variants = f'[variants."{name}"]\nset = {{ "train.lr_d" = 1e-3 }}\n'
    suite = suite_named(tmp_path / "s.toml", suite_text, "s", variants)
    assert main(["run", str(suite), "--results", str(tmp_path / "r"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(suite) in err and "variants." in err and code in err
    assert "\u202e" not in err and "\x00" not in err, "the message shows the name escaped"


def test_variant_names_are_limited_in_utf8_bytes_not_characters(
    capsys, tmp_path: Path, suite_text
) -> None:
    fits, too_long = "é" * (MAX_NAME_BYTES // 2), "é" * (MAX_NAME_BYTES // 2 + 1)
    for name, code in ((fits, 0), (too_long, 2), ("Ωmega-λ", 0)):
        variants = f'[variants."{name}"]\nset = {{ "train.lr_d" = 1e-3 }}\n'
        suite = suite_named(tmp_path / "s.toml", suite_text, "s", variants)
        assert main(["run", str(suite), "--results", str(tmp_path / "r"), "--dry-run"]) == code
    assert (
        f"1 to {MAX_NAME_BYTES} bytes of UTF-8, not {MAX_NAME_BYTES + 2}" in capsys.readouterr().err
    )
