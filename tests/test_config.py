"""Suite loading: overrides land where users expect, bad input names file, key and allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_suite, override_path, parse_value
from bench.errors import ConfigError
from bench.expand import plan_suite


def test_override_paths_default_to_base_and_suite_fields() -> None:
    assert override_path("train.steps") == ["base", "train", "steps"]
    assert override_path("seeds") == ["suite", "seeds"]
    assert override_path("tricks.noisy_labels.flip_probability")[0] == "tricks"


def test_values_are_read_as_toml() -> None:
    assert parse_value("200") == 200
    assert parse_value("1e-4") == pytest.approx(1e-4)
    assert parse_value("[0, 1]") == [0, 1]
    assert parse_value("true") is True
    assert parse_value("digits") == "digits"


def test_set_overrides_any_value(tiny_suite: Path) -> None:
    suite = load_suite(tiny_suite, ["train.steps=7", "seeds=[3]", "eval.num_samples=64"])
    assert suite.base.train.steps == 7
    assert suite.suite.seeds == (3,)
    assert suite.base.eval.num_samples == 64


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[suite\nname = 'x'")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_suite(path)


def test_unknown_key_lists_the_allowed_keys(tiny_suite: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_suite(tiny_suite, ["train.stepz=3"])
    message = str(err.value)
    assert "tiny.toml" in message and "'base.train.stepz'" in message
    assert "allowed here:" in message and "steps" in message


def test_out_of_range_value_names_key_and_bound(tiny_suite: Path) -> None:
    with pytest.raises(ConfigError, match=r"'base.train.batch_size' = 1: .*greater than or equal"):
        load_suite(tiny_suite, ["train.batch_size=1"])


def test_unknown_dataset_lists_the_known_ones(tiny_suite: Path) -> None:
    """Dataset names are checked against the registry (plugins add to it) when expanding."""
    with pytest.raises(ConfigError, match=r"tiny.toml.*'data.name' = 'mnistx'.*known.*digits"):
        plan_suite(tiny_suite, ["data.name=mnistx"])


def test_missing_suite_file() -> None:
    with pytest.raises(ConfigError, match="no such suite file"):
        load_suite("does/not/exist.toml")


def test_margins_are_read_per_metric_in_its_units(tiny_suite: Path) -> None:
    suite = load_suite(tiny_suite, ["margin={ fid = 0.5, kid = 0.001 }"])
    assert suite.suite.margin == {"fid": 0.5, "kid": 0.001}
    assert load_suite(tiny_suite, ["margin.fid=2"]).suite.margin == {"fid": 2}
    assert load_suite(tiny_suite).suite.margin == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{ fidd = 1.0 }", r"key 'suite\.margin\.fidd': Input should be 'fid', 'isc', 'kid'"),
        ("{ fid = -1.0 }", r"key 'suite\.margin\.fid' = -1\.0: Input should be greater than 0"),
        ("{ fid = inf }", r"key 'suite\.margin\.fid' = inf: Input should be a finite number"),
        ("1.0", r"key 'suite\.margin' = 1\.0: .*expected a table of margins per metric"),
    ],
)
def test_a_bad_margin_names_the_key_and_what_is_allowed(
    tiny_suite: Path, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=rf"tiny\.toml: {message}"):
        load_suite(tiny_suite, [f"margin={value}"])


def test_a_margin_for_a_metric_the_suite_does_not_score_is_refused(tiny_suite: Path) -> None:
    with pytest.raises(ConfigError, match=r"suite\.margin\.modes_covered = 'modes_covered': not a"):
        plan_suite(tiny_suite, ["margin.modes_covered=1"])


def test_the_stored_definition_records_the_margins(tiny_suite: Path) -> None:
    from bench.run.suite import suite_metadata

    suite = load_suite(tiny_suite, ["margin.fid=0.5"])
    meta = suite_metadata(suite, tiny_suite, ["margin.fid=0.5"])
    assert meta["margin"] == {"fid": 0.5}
    assert meta["default_margin"]["fid"] == 1.0


def test_a_bad_margin_on_the_command_line_is_one_line_and_exit_code_2(
    tiny_suite: Path, tmp_path: Path, capsys
) -> None:
    from bench.cli import main

    argv = ["run", str(tiny_suite), "--dry-run", "--results", str(tmp_path / "r")]
    assert main([*argv, "--set", "margin.fid=0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "key 'suite.margin.fid' = 0: Input should be greater" in err
    assert not (tmp_path / "r").exists()
