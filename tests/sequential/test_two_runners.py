"""Two runners on one sequential suite split every stage (job claims) and train each job once;
both see the same stage decisions, recorded once per stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def bench_run(suite: Path, results: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.cli", "run", str(suite), "--results", str(results),
           "--device", "cpu", "--quiet"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_two_runners_on_a_sequential_suite_train_each_job_once(ring_suite, tmp_path: Path):
    suite = ring_suite(
        'exploratory = "a seconds-long test: 3 seeds cannot decide"\n'
        'primary_metric = "modes_covered"'
    )
    text = suite.read_text().replace(
        "start = 8, step = 2, max = 12", "start = 2, step = 1, max = 3"
    )
    suite.write_text(text.split("[variants.placebo]")[0])
    results = tmp_path / "results"
    runners = [bench_run(suite, results), bench_run(suite, results)]
    outputs = [proc.communicate(timeout=600) for proc in runners]
    for proc, (out, err) in zip(runners, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "stages: 2 of 2; jobs: 6 of the worst case 6" in out, out
    jobs = sorted(results.glob("ringseq/*/result.json"))
    assert len(jobs) == 6
    trained = {runner.pid: 0 for runner in runners}
    for result in jobs:
        claims = [json.loads(p.read_text()) for p in sorted(result.parent.glob("claim-*.json"))]
        ran = [claim for claim in claims if claim["outcome"] != "already finished"]
        assert [claim["outcome"] for claim in ran] == ["ok"]  # one training per job
        trained[ran[0]["runner"]["pid"]] += 1
    assert sum(trained.values()) == 6
    (record,) = json.loads((results / "ringseq" / "stages.json").read_text()).values()
    assert [stage["stage"] for stage in record["stages"]] == [1, 2]
