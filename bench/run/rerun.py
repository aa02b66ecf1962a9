"""`bench rerun JOB_DIR`: run one job again from its own folder alone.

A job folder's `job.json` holds the fully resolved job (every trick parameter filled, the
seed, the suite and variant it belongs to), as stylegan2-ada's `training_options.json` does,
so the job can be rebuilt from that file without its suite file. The rerun goes to another
results folder; its metrics are compared with the original's: on the same code and machine
class (`bench.machine`) they are identical, bit for bit, and a difference is a failure (exit 1).
On another machine class (another CPU model, instruction-set dispatch or GPU), or when the
original did not record its class, bit equality is not expected (GAN training amplifies the
last bit of the kernels' arithmetic): the rerun says so and lists the differences, which are
then not a failure. The rerun trains with the threads the original recorded, if any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.errors import ResultsError
from bench.expand import Job
from bench.machine import UNRECORDED, machine_class
from bench.run.job.device import resolve_device
from bench.run.job.phases import run_job
from bench.run.store.records import JobRecord, ResultRecord
from bench.run.store.results import JOB_FILE, RESULT_FILE, ResultsStore, read_record


@dataclass
class Rerun:
    """A rerun: the job, where it went, its record, and how its metrics compare."""

    job: Job
    folder: Path
    record: dict[str, Any]
    original: dict[str, Any] | None
    differences: list[str] = field(default_factory=list)

    @property
    def classes(self) -> tuple[str, str]:
        """The machine classes of (the original, the rerun)."""
        return machine_class(self.original or {}), machine_class(self.record)

    @property
    def other_class(self) -> bool:
        """The rerun ran on another machine class than the original (or the original's is
        unrecorded): its numbers need not be bit-identical."""
        original, here = self.classes
        return self.original is not None and original != here

    @property
    def failed(self) -> bool:
        """The metrics differ where they should be identical: same machine class."""
        return bool(self.differences) and not self.other_class

    def describe(self) -> str:
        job = self.job
        lines = [
            f"re-ran job {job.id} (suite {job.suite}, variant {job.variant}, seed {job.seed}) "
            f"into {self.folder}: {self.record['status']}"
        ]
        if self.original is None:
            lines.append("the original has no readable result.json: nothing to compare with")
        elif self.differences and self.other_class:
            original, here = self.classes
            where = (
                "the original did not record its machine class"
                if original == UNRECORDED
                else f"the original ran on machine class '{original}'"
            )
            lines.append(
                f"{where}, this rerun on '{here}': bit equality is not expected across machine "
                "classes (training amplifies the last bit of the kernels' arithmetic), so the "
                "differences are not a failure; rerun on the original's class to check it bit "
                "for bit"
            )
            lines.append("metrics differ from the original: " + "; ".join(self.differences))
        elif self.differences:
            lines.append(
                "metrics differ from the original on the same machine class "
                f"('{self.classes[1]}'): " + "; ".join(self.differences)
            )
        else:
            shown = ", ".join(f"{k} {v:.6g}" for k, v in self.record["metrics"].items() if v)
            lines.append(f"metrics identical to the original ({shown or 'no metrics'})")
        return "\n".join(lines)


def load_job(job_dir: str | Path) -> Job:
    """The job that `job_dir/job.json` describes (a `ResultsError` naming the file if none)."""
    path = Path(job_dir) / JOB_FILE
    if not path.is_file():
        raise ResultsError(f"{path}: no such file; give a job folder (results/<suite>/<job-id>)")
    return Job.from_record(read_record(JobRecord, path), str(path))


def rerun_job(job_dir: str | Path, into: str | Path = "reruns", device: str = "auto") -> Rerun:
    """Run the job of `job_dir` again into the results folder `into` and compare its metrics."""
    job_dir = Path(job_dir)
    job = load_job(job_dir)
    store = ResultsStore(into)
    target = store.job_dir(job.suite, job.id)
    if target.resolve() == job_dir.resolve():
        raise ResultsError(f"--into {into}: would overwrite the job being re-run; use another")
    recorded = read_record(JobRecord, job_dir / JOB_FILE).get("threads")
    previous = torch.get_num_threads()
    if recorded:  # the original's thread count: a CPU kernel may split its sums by it
        torch.set_num_threads(recorded)
    try:
        record = run_job(job, store, resolve_device(device))
    finally:
        torch.set_num_threads(previous)
    try:
        original = read_record(ResultRecord, job_dir / RESULT_FILE)
    except ResultsError:
        original = None
    differences = [] if original is None else metric_differences(original, record)
    return Rerun(job, target, record, original, differences)


def metric_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """`fid 12.3 -> 12.4` for each metric (and the status) that is not exactly equal."""
    changed = [
        f"{name} {before.get('metrics', {}).get(name)} -> {after.get('metrics', {}).get(name)}"
        for name in sorted(set(before.get("metrics", {})) | set(after.get("metrics", {})))
        if before.get("metrics", {}).get(name) != after.get("metrics", {}).get(name)
    ]
    if before.get("status") != after.get("status"):
        changed.insert(0, f"status {before.get('status')} -> {after.get('status')}")
    if changed and before.get("fingerprint") != after.get("fingerprint"):
        changed.append("(the code, library versions or device differ from the original's)")
    return changed
