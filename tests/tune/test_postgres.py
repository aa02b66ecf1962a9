"""Two workers share one study through a real PostgreSQL server on loopback.

The server is Debian's `postgresql` package (`.ci/run` installs it): the fixture makes a
throw-away cluster with `initdb`, starts it with `pg_ctl` on 127.0.0.1 and a free port, and
removes it afterwards. Set GAN_BENCH_TEST_POSTGRES to a SQLAlchemy URL to use your own server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from bench.tune import tune_suite

SERVER_USER = "postgres"  # initdb refuses to run as root; Debian's package creates this user


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(debian[-1]).parent if debian else None


def as_server_user() -> list[str]:
    """The command prefix that runs the server unprivileged (nothing when not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        pytest.skip(f"running as root and there is no '{SERVER_USER}' user to run PostgreSQL")
    if not shutil.which("runuser"):
        pytest.skip("running as root and runuser is missing: cannot start PostgreSQL unprivileged")
    return ["runuser", "-u", SERVER_USER, "--"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a PostgreSQL server on loopback, started here if need be."""
    pytest.importorskip("psycopg2", reason="no PostgreSQL driver: pip install 'gan-bench[test]'")
    if os.environ.get("GAN_BENCH_TEST_POSTGRES"):
        yield os.environ["GAN_BENCH_TEST_POSTGRES"]
        return
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql "
            "(.ci/run does), or set GAN_BENCH_TEST_POSTGRES to a server's URL"
        )
    prefix = as_server_user()
    home = Path(tempfile.mkdtemp(prefix="gan-bench-pg-"))
    if prefix:
        shutil.chown(home, SERVER_USER)
    data, port = home / "data", free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home} -c fsync=off"
    pg_ctl = [*prefix, str(binaries / "pg_ctl"), "-D", str(data)]
    try:
        for command in (
            [*prefix, str(binaries / "initdb"), "-D", str(data), "-U", "bench", "-A", "trust"],
            [*pg_ctl, "-l", str(home / "server.log"), "-o", options, "-w", "-t", "60", "start"],
        ):
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, (
                f"{command[len(prefix)]} failed:\n{done.stdout}{done.stderr}"
            )
        yield f"postgresql+psycopg2://bench@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)


def test_two_workers_share_one_study_through_postgresql(
    postgres_url: str, make_tune_suite, tmp_path: Path, tuning, warm_cache
) -> None:
    """A `bench tune` process and this one, on one PostgreSQL study."""
    suite, results = make_tune_suite(steps=20), tmp_path / "results"
    other = tuning.worker(suite, results, "--n-trials", "4", "--storage", postgres_url)
    tuning.wait_running(postgres_url, "tinytune.baseline", other)
    ours = tune_suite(
        suite, n_trials=4, storage=postgres_url, results=results, device="cpu", progress=False
    )
    output = other.communicate(timeout=300)[0]
    assert other.returncode == 0, output
    assert "storage: postgresql+psycopg2://bench@127.0.0.1" in output
    assert ours.variants[0].complete == 4
    study = optuna.load_study(study_name="tinytune.baseline", storage=postgres_url)
    tuning.assert_shared(study, 4, tuning.records(results))
    assert not (results / "tinytune.trials" / "optuna.db").exists()  # nothing went to SQLite
