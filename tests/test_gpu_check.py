"""The prepared GPU check (benchmarks/gpu/check.sh) parses, picks its wheels, names every
missing import in one line, imports and plans on CPU."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu" / "check.sh"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"


def check_sh(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable, **env},
        timeout=300,
        check=False,
    )


def script_module(name: str):
    """benchmarks/gpu/NAME.py, imported as a module."""
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", SCRIPT.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_gpu_check_dry_run_walks_every_section_within_its_budget(tmp_path) -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0
    done = check_sh("--dry-run", GPU_CHECK_WHEELS=str(tmp_path / "none"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "of a 480 s budget" in done.stdout
    for section in ("setup", "tests", "packed suite", "per job", "suite", "evaluation"):
        assert f"  {section} " in done.stdout
    assert "wheels: no " in done.stdout and "imports: all " in done.stdout
    assert "packed suite: 10 jobs (baseline, eager_only, minibatch_discrimination" in done.stdout
    assert "every trick builds; tests/gpu collects" in done.stdout
    assert (
        not (REPO / "benchmarks" / "RESULTS.md").exists()
        or "GPU check" in (REPO / "benchmarks" / "RESULTS.md").read_text()
    )


def test_the_wheels_for_this_python_are_picked_and_others_refused(tmp_path) -> None:
    wheels = tmp_path / "whl"
    (wheels / "cp39").mkdir(parents=True)
    refused = check_sh("--dry-run", GPU_CHECK_WHEELS=str(wheels))
    assert refused.returncode == 2 and refused.stdout == ""
    line = refused.stderr.strip()
    assert "\n" not in line and "no wheels for Python" in line and "(there: cp39 )" in line
    (wheels / TAG).mkdir()
    (wheels / "any").mkdir()
    for name in ("any/a-1-py3-none-any.whl", f"{TAG}/b-1-{TAG}-{TAG}-manylinux.whl"):
        (wheels / name).touch()
    (wheels / "cp39" / "c-1-cp39-cp39-manylinux.whl").touch()
    picked = check_sh("--dry-run", GPU_CHECK_WHEELS=str(wheels))
    assert picked.returncode == 0, picked.stderr
    assert f"wheels: 2 for Python {sys.version_info[0]}.{sys.version_info[1]}" in picked.stdout


def test_every_missing_import_is_named_in_one_line(capsys, monkeypatch) -> None:
    imports = script_module("imports")
    assert imports.missing(["json", "no_such_module_a", "no_such_module_b"]) == [
        "no_such_module_a (ModuleNotFoundError: No module named 'no_such_module_a')",
        "no_such_module_b (ModuleNotFoundError: No module named 'no_such_module_b')",
    ]
    monkeypatch.setitem(imports.IMPORTS, "a", "no_such_module_a")
    monkeypatch.setitem(imports.IMPORTS, "b", "no_such_module_b")
    assert imports.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing imports (2): no_such_module_a" in err
    assert "no_such_module_b" in err


@pytest.mark.parametrize("table", ["dependencies", "test"])
def test_the_import_check_covers_every_dependency(table) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] if table == "dependencies" else ["pytest"]
    names = {spec.split(">")[0].split("=")[0].split("[")[0].strip().lower() for spec in specs}
    assert names <= {name.lower() for name in script_module("imports").IMPORTS}


def test_the_rerun_step_picks_seed_0_of_the_dcgan_and_the_cublas_heavy_job(tmp_path) -> None:
    """`bench rerun` of packed jobs is the GPU check of bit-for-bit reruns: it must find one
    DCGAN job and one spectral-norm job whatever their ids."""
    driver = script_module("driver")
    jobs = {"a1": ("resnet", 0), "b2": ("baseline", 1), "c3": ("baseline", 0)}
    jobs |= {"d4": ("spectral_norm", 0), "e5": ("spectral_norm", 1)}
    for job, (variant, seed) in jobs.items():
        folder = tmp_path / "gpu_check" / job
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(f'{{"variant": "{variant}", "seed": {seed}}}')
    chosen = driver.rerun_folders(tmp_path)
    assert {variant: folder.name for variant, folder in chosen.items()} == {
        "baseline": "c3",
        "spectral_norm": "d4",
    }
    assert driver.PACKED_SUITE.count("[variants.spectral_norm]") == 1
