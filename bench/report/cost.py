"""The report's cost table: what each variant cost in wall time and in CPU time, and whether
the machine's load varied while the suite ran.

Wall time measures the machine as much as the trick: a job that waited for a core shared with
other work looks slow. CPU time (`bench.run.job.cpu_time`) does not grow with the wait, so the
table shows both, and CPU seconds per training step (`train_cpu_time_s / steps_completed`,
the training phase, evaluation points included, as steps/s) is the number to compare tricks
by. Each job's CPU share (CPU seconds per wall second in training: about its thread count
when it had the cores, less when it waited) tells how loaded the machine was; when the share
differs between variants (medians more than `VARIANT_LOAD_RATIO` apart) or between the jobs
of the suite (more than `JOB_LOAD_RATIO` apart), a note says that load varied and that the
wall times are not a property of the tricks. Jobs recorded before CPU time was recorded
show '-' and are left out of the note; so are jobs run with other thread counts, which the
note names instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.plots import variant_order
from bench.report.summary import number

VARIANT_LOAD_RATIO = 1.25  # variants' median CPU shares further apart than this: load varied
JOB_LOAD_RATIO = 2.0  # jobs' CPU shares (5th to 95th percentile) further apart than this


def _column(jobs: pd.DataFrame, name: str) -> pd.Series:
    """`jobs[name]` as floats, NaN where missing (older records)."""
    if name not in jobs:
        return pd.Series(np.nan, index=jobs.index, dtype=float)
    return pd.to_numeric(jobs[name], errors="coerce").astype(float)


def cpu_per_step(jobs: pd.DataFrame) -> pd.Series:
    """CPU seconds per training step of each job (NaN where not recorded)."""
    steps = _column(jobs, "steps_completed").where(lambda s: s > 0)
    return _column(jobs, "train_cpu_time_s") / steps


def cpu_share(jobs: pd.DataFrame) -> pd.Series:
    """CPU seconds per wall second of each job's training phase (NaN where not recorded)."""
    wall = _column(jobs, "train_time_s").where(lambda s: s > 0)
    return _column(jobs, "train_cpu_time_s") / wall


def cost_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per variant: median wall and CPU time, train steps/s, CPU s/step, CPU share and
    threads, and the compute spent on all its seeds."""
    jobs = jobs.assign(_cpu_step=cpu_per_step(jobs), _share=cpu_share(jobs))
    jobs = jobs.assign(_cpu=_column(jobs, "cpu_time_s"), _threads=_column(jobs, "threads"))
    grouped = jobs.groupby("variant")
    table = pd.DataFrame(
        {
            "jobs": grouped.size().astype(str),
            "median wall time (s)": grouped["wall_time_s"].median().map(number),
            "median CPU time (s)": grouped["_cpu"].median().map(number),
            speed_label(jobs): grouped["steps_per_s"].median().map(number),
            "median CPU s/step": grouped["_cpu_step"].median().map(number),
            "median CPU share (CPU s per wall s)": grouped["_share"].median().map(number),
            "threads per worker": grouped["_threads"].agg(_threads_text),
            "total wall time (s)": grouped["wall_time_s"].sum().map(number),
            "total CPU time (s)": grouped["_cpu"].sum(min_count=1).map(number),
        }
    ).reindex(variant_order(jobs))
    total = {
        "jobs": str(len(jobs)),
        "total wall time (s)": number(jobs["wall_time_s"].sum()),
        "total CPU time (s)": number(jobs["_cpu"].sum(min_count=1)),
    }
    table.loc["all variants"] = pd.Series(total)
    return table.fillna("").rename_axis("variant").reset_index()


def _threads_text(threads: pd.Series) -> str:
    found = sorted({int(t) for t in threads.dropna()})
    return ", ".join(map(str, found)) or "-"


def speed_label(jobs: pd.DataFrame) -> str:
    """The steps/s column's heading: a job packed with others on a GPU
    (`bench.run.executors.packed`) advances in turn with its neighbours, so its steps/s is its speed
    while sharing the GPU, not the trick's own; the heading says so whenever any job ran packed."""
    label = "median train steps/s"
    packed = jobs["packed"].dropna() if "packed" in jobs else pd.Series(dtype=float)
    if (packed > 1).any():
        most = int(packed.max())
        label += f" (packed, up to {most} jobs a GPU: speed while sharing, not a trick's own)"
    return label


def load_notes(jobs: pd.DataFrame) -> list[str]:
    """What a reader must know before reading wall times as a trick's cost (module docstring)."""
    notes = []
    threads = sorted({int(t) for t in _column(jobs, "threads").dropna()})
    if len(threads) > 1:
        notes.append(
            f"The jobs ran with different thread counts per worker ({', '.join(map(str, threads))}"
            "): their wall times and CPU shares differ for that reason too."
        )
    share = jobs.assign(_share=cpu_share(jobs)).dropna(subset=["_share"])
    share = share[share["_share"] > 0]
    if len(share) < 2:
        return notes
    medians = share.groupby("variant")["_share"].median()
    low, high = np.percentile(share["_share"], [5, 95])
    varied = []
    if len(medians) > 1 and medians.max() > VARIANT_LOAD_RATIO * medians.min():
        varied.append(
            f"between variants (median CPU share {number(medians.min())} for "
            f"{medians.idxmin()} to {number(medians.max())} for {medians.idxmax()})"
        )
    if high > JOB_LOAD_RATIO * low:
        varied.append(f"between jobs (CPU share {number(low)} to {number(high)})")
    if varied:
        notes.append(
            "Machine load varied while this suite ran, "
            + " and ".join(varied)
            + ": the jobs did not get the same share of the CPU, so wall times and steps/s "
            "measure the machine's load as much as the tricks. Compare CPU s/step, which the "
            "wait for a core does not change."
        )
    return notes
