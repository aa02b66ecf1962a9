"""examples/plugin, installed for real: its model, trick and dataset run through `bench run` and
`bench report` like built-ins, are listed with their origin, and are recorded in provenance."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.cli import main

PACKAGE = "gan-bench-example-plugin"
SUITE = {
    "name": "bars_plugin",
    "design": "one_at_a_time",
    "seeds": [0],
    "exploratory": "a plugin smoke test: one seed",
}
BASE = {
    "data": {"name": "bars"},
    "model": {"arch": "tiny_mlp", "g_width": 32, "d_width": 32},
    "train": {"steps": 20, "log_every": 10},
}
TRICKS = """[tricks.orthogonal_regularization]
beta = 1e-3
"""


@pytest.fixture
def example(plugin_path, example_site: Path, tmp_path: Path, suite_text) -> Path:
    """The installed example on the path; returns a suite file using all three components."""
    plugin_path(example_site)
    suite = tmp_path / "bars_plugin.toml"
    suite.write_text(suite_text(SUITE, BASE, TRICKS))
    return suite


def test_suite_of_plugin_model_trick_and_dataset_runs_and_reports(
    capsys, example: Path, tmp_path: Path
) -> None:
    results, report = tmp_path / "results", tmp_path / "report.html"
    assert main(["run", str(example), "--results", str(results), "--quiet"]) == 0
    assert main(["report", "--results", str(results), "--out", str(report)]) == 0
    assert main(["report", "--results", str(results), "--format", "md"]) == 0
    out = capsys.readouterr().out

    folders = sorted(results.glob("bars_plugin/*/"))
    records = [json.loads((folder / "result.json").read_text()) for folder in folders]
    assert sorted(r["variant"] for r in records) == ["baseline", "orthogonal_regularization"]
    for folder, record in zip(folders, records, strict=True):
        assert record["status"] == "ok" and record["metrics"]["fid"] > 0
        assert {p["package"] for p in record["plugins"]} == {PACKAGE}
        assert {p["version"] for p in record["plugins"]} == {"0.1.0"}
        job = json.loads((folder / "job.json").read_text())
        assert job["plugins"] == record["plugins"]
        assert job["config"]["model"]["params"] == {"slope": 0.2}, "its default, recorded"
    provided = {
        r["variant"]: sorted(what for p in r["plugins"] for what in p["provides"]) for r in records
    }
    assert provided == {
        "baseline": ["dataset:bars", "model:tiny_mlp"],
        "orthogonal_regularization": [
            "dataset:bars",
            "model:tiny_mlp",
            "trick:orthogonal_regularization",
        ],
    }
    html = report.read_text()
    assert "orthogonal_regularization" in html and f"{PACKAGE} 0.1.0" in html
    assert "orthogonal_regularization" in out


def test_worker_processes_run_the_plugin_trick_and_record_its_origin(
    capsys, example: Path, tmp_path: Path
) -> None:
    """A job reaches a spawned worker with its parameters typed; the worker imports the plugin
    as a plugin before it meets their class, so the provenance names it."""
    results = tmp_path / "results"
    argv = ["run", str(example), "--results", str(results), "--quiet", "--jobs", "2"]
    assert main(argv) == 0, capsys.readouterr().err
    records = [json.loads(p.read_text()) for p in results.glob("bars_plugin/*/result.json")]
    trick = next(r for r in records if r["variant"] == "orthogonal_regularization")
    assert trick["status"] == "ok" and trick["execution"]["worker"] != os.getpid()
    provided = sorted(what for p in trick["plugins"] for what in p["provides"])
    assert "trick:orthogonal_regularization" in provided


def test_bench_tricks_lists_the_plugin_trick_with_its_origin(capsys, example: Path) -> None:
    assert main(["tricks"]) == 0
    listing = capsys.readouterr().out
    line = next(x for x in listing.splitlines() if x.startswith("orthogonal_regularization "))
    assert "[regularization]" in line and f"({PACKAGE} 0.1.0)" in line
    assert "citation: Brock et al. 2019, BigGAN" in listing
    assert main(["tricks", "orthogonal_regularization"]) == 0
    shown = capsys.readouterr().out
    assert (
        "beta = 0.0001" in shown
        and f"origin: plugin 'gan_bench_example.tricks' ({PACKAGE}" in shown
    )


def test_plugin_trick_parameters_are_typed(capsys, example: Path) -> None:
    code = main(
        ["run", str(example), "--dry-run", "--set", "tricks.orthogonal_regularization.beta=-1"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "tricks.orthogonal_regularization.beta" in err and "-1" in err


def test_trick_the_plugin_model_does_not_support_is_refused_naming_both(
    capsys, example: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    argv = ["run", str(example), "--results", str(results), "--set", "tricks.minibatch_stddev={}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "trick 'minibatch_stddev' cannot be applied to model 'tiny_mlp'" in err
    assert PACKAGE in err and not results.exists()
    allowed = ["run", str(example), "--dry-run", "--set", "tricks.spectral_norm={}"]
    assert main(allowed) == 0, "a surgery trick the model declares is accepted"


def test_the_plugin_models_own_params_are_validated(capsys, example: Path) -> None:
    assert main(["run", str(example), "--dry-run", "--set", "model.params.slope=0.1"]) == 0
    capsys.readouterr()
    assert main(["run", str(example), "--dry-run", "--set", "model.params.slope=2"]) == 2
    err = capsys.readouterr().err
    assert "key 'model.params.slope' = 2: Input should be less than 1" in err
