"""Property: no change to a real results folder's `result.json`, `job.json`, `history.csv` or
`suite.json` makes `bench report`, `bench export`, `bench merge` or `bench run --dry-run`
raise, and a job whose digested files changed is never pooled or merged (Hypothesis mutates
the files of one real tiny run)."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cli import main
from bench.run.store.results import Damaged, ResultsStore

JSON_FILES = ("result.json", "job.json", "suite.json")
DIGESTED = ("job.json", "history.csv")
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def key_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document (not the root)."""
    found = [prefix] if prefix else []
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        found += key_paths(child, (*prefix, key))
    return found


def mutated_json(data: bytes, draw) -> bytes:
    """The document with one value replaced or one key removed."""
    document = json.loads(data)
    path = draw(st.sampled_from(key_paths(document)))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()):
        parent[path[-1]] = draw(JSON_VALUES)
    else:
        del parent[path[-1]]
    return json.dumps(document).encode()


def mutated_csv(data: bytes, draw) -> bytes:
    """The table with one cell replaced by arbitrary text."""
    rows = [line.split(",") for line in data.decode().splitlines()]
    row = draw(st.integers(0, len(rows) - 1))
    rows[row][draw(st.integers(0, len(rows[row]) - 1))] = draw(st.text(max_size=6))
    return ("\n".join(",".join(cells) for cells in rows) + "\n").encode()


def mutated(data: bytes, name: str, draw) -> bytes:
    """`data` cut short, with bytes inserted, or changed as JSON / CSV."""
    how = draw(st.sampled_from(["truncate", "insert", "structured"]))
    if how == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return mutated_json(data, draw) if name in JSON_FILES else mutated_csv(data, draw)


def run(argv: list[str]) -> tuple[int, str, str]:
    """`bench ARGV` in this process: its exit code, stdout and stderr (it must not raise)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from([*JSON_FILES, "history.csv"]), data=st.data())
def test_no_damage_crashes_a_reader_or_pools_a_damaged_job(finished_run, name: str, data) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        results = finished_run.copy(Path(scratch) / "results")
        job = finished_run.trick_job(results)
        path = results / "tiny" / name if name == "suite.json" else job / name
        before = path.read_bytes()
        path.write_bytes(mutated(before, name, data.draw))
        changed = path.read_bytes() != before

        dry = ["run", str(finished_run.suite), "--results", str(results), "--dry-run"]
        code, dry_out, _ = run([*dry, "--set", "train.steps=4", "--set", "seeds=[0]"])
        assert code == 0
        for command in (["report", "--format", "md"], ["report", "--format", "csv"]):
            assert run([*command, "--results", str(results)])[0] in (0, 2)
        code, exported, export_err = run(["export", "--results", str(results)])
        assert code in (0, 2)
        merged = Path(scratch) / "merged"
        assert run(["merge", str(results), "--into", str(merged)])[0] in (0, 2)

        damaged = isinstance(ResultsStore(results).look("tiny", job.name), Damaged)
        if name in DIGESTED and changed:
            assert damaged, f"{path} changed but the job checks out"
        if damaged:
            assert f"job {job} is damaged" in dry_out
            assert job.name not in exported and str(job) in export_err
            assert not (merged / "tiny" / job.name).exists()
