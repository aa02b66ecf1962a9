"""Packed jobs' steps/s is their speed while sharing a GPU: the report says so."""

from __future__ import annotations

import pandas as pd

from bench.report.html import cost_table


def jobs(packed: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": ["baseline", "spectral_norm"] * (len(packed) // 2),
            "reference_variant": "baseline",
            "seed": range(len(packed)),
            "wall_time_s": 10.0,
            "steps_per_s": 100.0,
            "packed": packed,
        }
    )


def test_packed_speed_is_labelled_as_speed_while_sharing_the_gpu() -> None:
    headings = list(cost_table(jobs([8, 8, 16, None])).columns)
    assert (
        "median train steps/s (packed, up to 16 jobs a GPU: speed while sharing, "
        "not a trick's own)" in headings
    )


def test_jobs_run_alone_keep_the_plain_heading() -> None:
    assert "median train steps/s" in list(cost_table(jobs([None, None, 1, 1])).columns)
