"""The cost table reads CPU time beside wall time, so machine load is not read as a trick's cost."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report import build_report
from bench.report.cost import cost_table, load_notes

STEPS = 1000


def jobs(loads: dict[str, float], cpu_s: float = 20.0, threads: int = 1) -> pd.DataFrame:
    """Four seeds per variant, each training `STEPS` steps on `cpu_s` CPU seconds, at the
    variant's CPU share (`loads`: CPU seconds per wall second)."""
    rows = []
    for variant, share in loads.items():
        for seed in range(4):
            wall = cpu_s / share
            rows.append(
                {
                    "variant": variant,
                    "reference_variant": "baseline",
                    "seed": seed,
                    "steps_completed": STEPS,
                    "train_time_s": wall,
                    "wall_time_s": wall + 1.0,
                    "steps_per_s": STEPS / wall,
                    "train_cpu_time_s": cpu_s,
                    "cpu_time_s": cpu_s + 0.5,
                    "threads": threads,
                }
            )
    return pd.DataFrame(rows)


def by_variant(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("variant")


def test_uneven_load_is_named_and_cpu_seconds_per_step_stay_comparable() -> None:
    # the case: the baseline waited for the cores (20.3 s/job), the trick did not (8.5)
    uneven = jobs({"baseline": 0.42, "spectral_norm": 1.0})
    table = by_variant(cost_table(uneven))
    wall = table["median wall time (s)"]
    assert float(wall["baseline"]) > 2 * float(wall["spectral_norm"])
    cpu_step = table["median CPU s/step"]
    assert cpu_step["baseline"] == cpu_step["spectral_norm"] == "0.02"
    assert table.loc["baseline", "threads per worker"] == "1"
    (note,) = load_notes(uneven)
    assert "load varied" in note and "between variants" in note
    assert "baseline" in note and "spectral_norm" in note and "CPU s/step" in note


def test_even_load_adds_no_note() -> None:
    assert load_notes(jobs({"baseline": 0.95, "spectral_norm": 1.0})) == []


def test_uneven_load_within_each_variant_is_named_too() -> None:
    mixed = pd.concat([jobs({"baseline": 1.0}), jobs({"baseline": 0.3})], ignore_index=True)
    (note,) = load_notes(mixed)
    assert "between jobs" in note


def test_other_thread_counts_are_named() -> None:
    mixed = pd.concat(
        [jobs({"baseline": 1.0}, threads=1), jobs({"spectral_norm": 1.0}, threads=2)],
        ignore_index=True,
    )
    assert any("different thread counts per worker (1, 2)" in n for n in load_notes(mixed))


def test_records_without_cpu_time_show_a_dash_and_no_note() -> None:
    old = jobs({"baseline": 1.0, "spectral_norm": 0.3}).drop(
        columns=["train_cpu_time_s", "cpu_time_s", "threads"]
    )
    table = by_variant(cost_table(old))
    assert table.loc["baseline", "median CPU s/step"] == "-"
    assert table.loc["baseline", "median wall time (s)"] != "-"
    assert load_notes(old) == []


def test_the_html_report_says_load_varied(results, tmp_path: Path) -> None:
    results.suite("s")
    for variant, share in {"baseline": 0.4, "spectral_norm": 1.0}.items():
        for seed in range(3):
            wall = 10.0 / share
            cost = {"train_time_s": wall, "wall_time_s": wall + 1, "cpu_time_s": 11.0}
            cost |= {"train_cpu_time_s": 10.0, "threads": 1}
            results.job("s", variant, seed, {"fid": 10.0 + seed}, extra=cost)
    page = build_report(results.root, out=tmp_path / "r.html").read_text()
    assert "Machine load varied while this suite ran" in page
    assert "median CPU s/step" in page and "0.1</td>" in page
