"""`bench run --executor ray`: the same jobs and the same numbers as the local runner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.run.executors.ray_tasks import task_resources


def outputs(results: Path) -> dict[str, tuple[dict, str]]:
    """Each finished job's record and history, by job id."""
    found = {}
    for path in results.glob("tiny/*/result.json"):
        found[path.parent.name] = (
            json.loads(path.read_text()),
            (path.parent / "history.csv").read_text(),
        )
    return found


def test_ray_runs_the_suite_like_the_local_runner(capsys, tiny_suite: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    common = ["run", str(tiny_suite), "--device", "cpu", "--quiet", "--set", "suite.seeds=[0]"]
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main([*common, "--results", str(local), "--jobs", "2"]) == 0  # 1 thread a job, as Ray
    assert main([*common, "--results", str(remote), "--executor", "ray", "--address", "local"]) == 0
    assert "2 ok" in capsys.readouterr().out

    by_local, by_ray = outputs(local), outputs(remote)
    assert sorted(by_ray) == sorted(by_local) and len(by_ray) == 2
    for job, (record, history) in by_ray.items():
        expected, expected_history = by_local[job]
        assert record["metrics"] == expected["metrics"]  # CPU: bit for bit
        assert history == expected_history
        assert record["execution"]["executor"] == "ray"
        assert expected["execution"]["executor"] == "local"
        assert record["execution"]["mode"] == "eager"
        assert record["execution"]["reason"] == "CUDA graphs need a CUDA device"

    assert main([*common, "--results", str(remote), "--executor", "ray"]) == 0
    assert "2 already finished" in capsys.readouterr().out  # nothing pending: Ray not started


def test_without_ray_the_error_says_how_to_install_it(
    capsys, monkeypatch, tiny_suite: Path, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    results = tmp_path / "results"
    assert main(["run", str(tiny_suite), "--executor", "ray", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "pip install 'gan-bench[ray]'" in err
    assert not results.exists()


def test_task_resources_ask_for_a_fraction_of_a_gpu() -> None:
    assert task_resources("auto", {"CPU": 8.0}, None)[:2] == ("cpu", {"num_cpus": 1})
    device, resources, text = task_resources("auto", {"CPU": 32.0, "GPU": 4.0}, 4)
    assert device == "cuda" and resources == {"num_cpus": 1, "num_gpus": 0.25, "max_calls": 1}
    assert text == "4 GPUs x 4 jobs per GPU (--jobs-per-gpu)"
    assert task_resources("cuda", {"CPU": 16.0, "GPU": 2.0}, None)[1]["num_gpus"] == 1 / 8
    assert task_resources("cpu", {"CPU": 16.0, "GPU": 2.0}, None)[0] == "cpu"
    with pytest.raises(ConfigError, match="has no GPUs"):
        task_resources("cuda", {"CPU": 8.0}, None)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--executor", "ray", "--jobs", "2"], "--jobs is for the local executor"),
        (["--gpus-per-job", "1.5"], "--gpus-per-job 1.5: expected a fraction in (0, 1]"),
        (["--jobs-per-gpu", "0"], "--jobs-per-gpu 0: expected a positive number"),
    ],
)
def test_bad_placement_flags_are_refused_before_anything_starts(
    capsys, tiny_suite: Path, tmp_path: Path, flags: list[str], expected: str
) -> None:
    results = tmp_path / "results"
    assert main(["run", str(tiny_suite), "--results", str(results), *flags]) == 2
    assert expected in capsys.readouterr().err
    assert not results.exists()
