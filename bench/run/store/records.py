"""The typed schema of every file of a results folder: the models that write them read them.

`result.json` (`ResultRecord`), `job.json` (`JobRecord`), each row of `history.csv`
(`HistoryRow`) and `suite.json` (`SuiteRecord`) are checked against these models when they are
written and again whenever they are read: a results folder is input, copied between machines,
edited, cut short by a full disk. A file that does not match is corrupt, and the error names
the key (`corrupt: key 'fingerprint.code_id' = {'a': 1}: Input should be a valid string`).

Known fields are typed strictly (no string is taken for a number); fields these models do not
name are kept as they are, so a record written by newer code still reads. To record something
new, add it here as an optional field with a default (`None`, `{}`): records written before it
existed then still read, and records with it are checked. A job's `config` is checked as tables,
not against today's `bench.config.JobConfig`: a record made by older code, whose config has
other keys, is stale (`bench.run.store.selection`), not corrupt; `bench rerun` validates it in full.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.config import describe_error
from bench.errors import ResultsError

Scalar = str | int | float | bool | None
SHA256 = re.compile(r"^[0-9a-f]{64}$")
METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DERIVED = frozenset({"design", "reference_variant", "diverged_by", "job_dir"})  # report columns


class CorruptFile(ResultsError):
    """A results file is empty, truncated, not the JSON object it should be, or does not
    match its schema."""


class Stored(BaseModel):
    """A stored file or part of one: known fields typed strictly, other fields kept."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)


RecordT = TypeVar("RecordT", bound=Stored)


def checked(model: type[RecordT], data: Any, where: str) -> RecordT:
    """`data` validated as `model`; `CorruptFile` naming `where` and the first bad key."""
    if not isinstance(data, dict):
        raise CorruptFile(f"{where}: corrupt (a JSON {type(data).__name__}, not an object)")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise CorruptFile(describe_error(model, err, f"{where}: corrupt", "")) from None


class StoredConfig(Stored):
    """A job's resolved config as tables (see the module docstring)."""

    data: dict[str, Any] = {}
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    eval: dict[str, Any] = {}
    tricks: dict[str, dict[str, Any]] = {}


class PluginRecord(Stored):
    """A plugin module a job imported, and what it provides (`bench.components`)."""

    module: str
    package: str | None = None
    version: str | None = None
    provides: list[str] = []


class JobRecord(Stored):
    """`job.json`: the fully resolved job (`bench.expand.Job.record`), and its plugins."""

    job_id: str = Field(min_length=1)
    suite: str = Field(min_length=1)
    variant: str
    seed: int
    factors: dict[str, str] = {}
    config: StoredConfig = StoredConfig()
    modules: list[str] = []
    suite_revision: str | None = None
    plugins: list[PluginRecord] = []
    threads: int | None = None  # torch threads in the job's process; not in the job id


class Event(Stored):
    """A failure detector firing (`bench.train.monitor.Event`)."""

    step: int
    detector: str
    detail: str


class Fingerprint(Stored):
    """The code, device and machine class that made a result (`bench.provenance.fingerprint`)."""

    code_id: str
    device_class: str | None = None
    source: str | None = None
    gan_bench: str | None = Field(None, alias="gan-bench")
    torch: str | None = None
    torchvision: str | None = None
    torch_fidelity: str | None = Field(None, alias="torch-fidelity")
    numpy: str | None = None
    cuda: str | None = None
    python: str | None = None
    cpu_model: str | None = None  # the machine class (`bench.machine`): None before it was
    cpu_capability: str | None = None
    cpu_flags: str | None = None
    math_libraries: str | None = None
    gpu_model: str | None = None
    machine_class: str | None = None


class Best(Stored):
    value: float
    step: int | float


class Tuning(Stored):
    """A tuning trial's entry (`bench.tune.objective`)."""

    study: str
    trial: int
    state: str
    metric: str
    value: float | None
    params: dict[str, Scalar] = {}
    distributions: dict[str, str] = {}


class ResultRecord(JobRecord):
    """`result.json`: the job, how it ended, its metrics, cost, provenance and, last, the
    digest of every other file of the job (`digests`, file -> sha256; see
    `bench.run.store.results`)."""

    status: str = Field(min_length=1)
    diverged_at: int | None = None
    reason: str | None = None
    events: list[Event] = []
    metrics: dict[str, float | None] = {}
    metrics_without_sampling_tricks: dict[str, float | None] | None = None
    metric_provenance: dict[str, Scalar] = {}
    evaluations: list[dict[str, float | None]] = []
    checkpoint_provenance: dict[str, Scalar] = {}
    best: dict[str, Best] = {}
    steps_completed: int | None = None
    train_time_s: float | None = None
    eval_time_s: float | None = None
    wall_time_s: float | None = None
    cpu_time_s: float | None = None  # process CPU time in the job's turns (bench.run.job.cpu_time)
    train_cpu_time_s: float | None = None  # of it, in the training phase (as train_time_s)
    steps_per_s: float | None = None
    device: str | None = None
    versions: dict[str, str] = {}
    fingerprint: Fingerprint | None = None
    finished_at: str | None = None
    execution: dict[str, Any] = {}
    tuning: Tuning | None = None
    digests: dict[str, str] | None = None

    @field_validator("metrics", "metrics_without_sampling_tricks")
    @classmethod
    def _metric_names(cls, metrics: dict[str, float | None] | None) -> dict | None:
        """A metric is named like one (`fid`, `class_coverage`), never like a field of the
        record or a column a report derives from it, which it would shadow in a table."""
        for name in metrics or {}:
            if not METRIC_NAME.match(name) or name in cls.model_fields or name in DERIVED:
                raise ValueError(f"'{name}' is not a metric name")
        return metrics

    @field_validator("digests")
    @classmethod
    def _files_of_the_job(cls, digests: dict[str, str] | None) -> dict[str, str] | None:
        """Each key a relative path inside the job folder, each value a sha256."""
        for name, digest in (digests or {}).items():
            path = PurePosixPath(name)
            if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
                raise ValueError(f"'{name}' is not a file inside the job folder")
            if not SHA256.match(digest):
                raise ValueError(f"the digest of '{name}' is not a sha256 (64 hex digits)")
        return digests


class HistoryRow(Stored):
    """One row of `history.csv`: the step and numbers (empty cells: None)."""

    model_config = ConfigDict(extra="allow", strict=False)
    __pydantic_extra__: dict[str, float | None]

    step: int


class Expectation(Stored):
    """`[expect.VARIANT]` as `suite.json` records it (`bench.config.Expectation`)."""

    direction: str
    source: str
    metric: str | None = None


class Revision(Stored):
    """One definition of a suite that ran here: its jobs (id -> variant), first and last run."""

    jobs: dict[str, str] = {}
    first_run: str | None = None
    last_run: str | None = None


class SuiteRecord(Stored):
    """`suite.json`: the suite's design, reference, source, and every revision run here
    (`bench.run.suite.suite_metadata`, `bench.run.store.definition`)."""

    name: str = Field(min_length=1)
    description: str | None = None
    design: str | None = None
    reference_variant: str | None = None
    seeds: list[int] = []
    primary_metric: str | None = None
    correction: str | None = None
    interval: str | None = None
    exploratory: str | None = None
    budget: int | None = None
    expect: dict[str, Expectation] = {}
    ablated_tricks: list[str] = []
    source_file: str | None = None
    source_text: str | None = None
    overrides: list[str] = []
    revision: str | None = None
    revisions: dict[str, Revision] = {}
