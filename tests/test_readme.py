"""The README stays true: its test command is what CI runs; its trick table is the registry."""

from __future__ import annotations

import re
from pathlib import Path

from bench.tricks.catalog import markdown_table

REPO = Path(__file__).resolve().parents[1]


def readme() -> str:
    return (REPO / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = re.findall(r"```bash\n(.+?)\n```", readme())
    test_command = next(c for c in commands if c.rstrip().endswith("pytest"))
    ci_lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci_lines[-1] == test_command


def test_readme_main_job_runs_the_label_tricks_suite() -> None:
    commands = re.findall(r"```bash\n(.+?)\n```", readme())
    assert any("bench run suites/label_tricks.toml" in c and "bench report" in c for c in commands)


def test_trick_table_matches_the_registry() -> None:
    text = readme()
    table = text.split("<!-- tricks:start -->\n")[1].split("<!-- tricks:end -->")[0].strip()
    assert table == markdown_table(), (
        "README trick table is stale: replace the lines between the tricks markers with the "
        "output of `bench tricks --markdown`"
    )
