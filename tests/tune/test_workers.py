"""Worker processes share one study through its storage; a killed worker's trial is retried."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from optuna.trial import TrialState

from bench.tune import tune_suite


def test_two_workers_complete_n_trials_in_one_sqlite_study(
    make_tune_suite, tmp_path: Path, tuning, warm_cache
) -> None:
    """A `bench tune` process and this one; the second joins once the first is training."""
    suite, results = make_tune_suite(steps=20), tmp_path / "results"
    other = tuning.worker(suite, results, "--n-trials", "6")
    tuning.wait_running(tuning.sqlite(results), "tinytune.baseline", other)
    ours = tune_suite(suite, n_trials=6, results=results, device="cpu", progress=False)
    output = other.communicate(timeout=300)[0]
    assert other.returncode == 0, output
    assert "baseline: 6 complete, 0 pruned, 0 failed of 6" in output
    assert ours.variants[0].complete == 6
    tuning.assert_shared(tuning.study(results), 6, tuning.records(results))


def test_a_killed_workers_trial_is_detected_and_retried(
    make_tune_suite, tmp_path: Path, tuning, warm_cache
) -> None:
    suite, results = make_tune_suite(steps=100, every=None), tmp_path / "results"
    doomed = tuning.worker(suite, results, "--n-trials", "2")
    running = tuning.wait_running(tuning.sqlite(results), "tinytune.baseline", doomed)
    os.kill(doomed.pid, signal.SIGKILL)  # no chance to clean up: the trial stays RUNNING
    doomed.wait()

    summary = tune_suite(suite, n_trials=2, results=results, device="cpu", progress=False)
    assert summary.variants[0].complete == 2
    trials = {t.number: t for t in tuning.study(results).trials}
    assert trials[running].state == TrialState.FAIL
    (retry,) = [t for t in trials.values() if t.system_attrs.get("failed_trial") == running]
    assert retry.state == TrialState.COMPLETE and retry.params == trials[running].params
    assert len(tuning.records(results)) == 2
