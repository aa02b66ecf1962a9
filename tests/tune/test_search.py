"""A study runs its trials as normal jobs, prunes hopeless ones, resumes, confirms, exports."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import bench.tune.objective
from bench.config import TuneConfig, load_suite
from bench.expand import expand
from bench.report import load_results
from bench.run.store.results import ResultsStore
from bench.run.suite import Interrupted
from bench.tune import TuneError, format_summary, tune_suite
from bench.tune.study import TrialSeededSampler, base_sampler


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in sorted(study.trials, key=lambda t: t.number)]


def test_a_study_runs_its_trials_as_jobs_in_the_store(
    tune_suite_file: Path, tmp_path: Path, tuning
) -> None:
    results = tmp_path / "results"
    summary = tune_suite(tune_suite_file, n_trials=3, results=results, device="cpu", progress=False)
    (variant,) = summary.variants
    assert (variant.variant, variant.complete, variant.pruned, variant.failed) == (
        "baseline",
        3,
        0,
        0,
    )
    study = tuning.study(results)
    assert states(study) == ["COMPLETE"] * 3
    records = tuning.records(results)
    assert sorted(r["tuning"]["trial"] for r in records) == [0, 1, 2]
    by_trial = {t.number: t for t in study.trials}
    for record in records:
        trial = by_trial[record["tuning"]["trial"]]
        assert record["suite"] == "tinytune.trials" and record["variant"] == "baseline"
        assert record["job_id"] == trial.user_attrs["job_id"]  # the hash of its resolved config
        assert record["config"]["train"]["lr_g"] == trial.params["train.lr_g"]
        assert record["config"]["train"]["d_steps"] == trial.params["train.d_steps"]
        assert record["tuning"]["value"] == pytest.approx(trial.value)
        assert record["metrics"]["fid"] == pytest.approx(trial.value)
        assert "tricks.instance_noise.sigma" not in trial.params  # baseline has no noise
    assert variant.best is not None and variant.best.value == min(t.value for t in study.trials)
    meta = ResultsStore(results).read_suite("tinytune.trials")
    assert meta["design"] == "tune" and meta["tuning"]["studies"] == {
        "baseline": "tinytune.baseline"
    }


def test_resume_after_interruption_finishes_the_remainder(
    tune_suite_file: Path, tmp_path: Path, tuning, monkeypatch
) -> None:
    results = tmp_path / "results"
    run_job = bench.tune.objective.run_job
    calls = []

    def interrupted_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return run_job(*args, **kwargs)

    monkeypatch.setattr(bench.tune.objective, "run_job", interrupted_third)
    with pytest.raises(Interrupted, match="run the same command again"):
        tune_suite(tune_suite_file, n_trials=4, results=results, device="cpu", progress=False)
    assert states(tuning.study(results)) == ["COMPLETE", "COMPLETE", "FAIL"]

    monkeypatch.setattr(bench.tune.objective, "run_job", run_job)
    summary = tune_suite(tune_suite_file, n_trials=4, results=results, device="cpu", progress=False)
    assert summary.variants[0].complete == 4
    assert states(tuning.study(results)) == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    again = tune_suite(tune_suite_file, n_trials=4, results=results, device="cpu", progress=False)
    assert again.variants[0].complete == 4 and len(tuning.study(results).trials) == 5
    assert len(tuning.records(results)) == 4


def test_clearly_worse_trials_are_pruned(make_tune_suite, tmp_path: Path, tuning) -> None:
    """A frozen generator (lr_g = 1e-7) stays at its initial FID; trained ones move far below."""
    suite = make_tune_suite(pruner="median")  # 2 startup trials, no warm-up, eval every 5 steps
    results = tmp_path / "results"
    url = f"sqlite:///{results / 'tinytune.trials' / 'optuna.db'}"
    (results / "tinytune.trials").mkdir(parents=True)
    study = optuna.create_study(study_name="tinytune.baseline", storage=url, direction="minimize")
    common = {"train.d_steps": 1, "train.g_steps": 1}
    for lr_g in (0.5, 0.3, 1e-7, 2e-7):
        study.enqueue_trial({"train.lr_g": lr_g, **common})
    wide = ["tune.params.train.lr_g.low=1e-8"]
    tune_suite(suite, wide, n_trials=4, results=results, device="cpu", progress=False)
    assert states(tuning.study(results)) == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    records = {r["tuning"]["trial"]: r for r in tuning.records(results)}
    for number in (2, 3):
        pruned = records[number]
        assert pruned["status"] == "pruned" and pruned["steps_completed"] == 5
        assert pruned["reason"].startswith("pruned by the median pruner at step 5")
        assert pruned["tuning"]["state"] == "pruned"
        assert pruned["metrics"]["fid"] > 2 * max(records[0]["evaluations"][0]["fid"], 1)
    assert records[0]["steps_completed"] == records[1]["steps_completed"] == 10


def test_all_variants_confirm_and_export_a_runnable_suite(
    tune_suite_file: Path, tmp_path: Path, tuning
) -> None:
    results, exported = tmp_path / "results", tmp_path / "tuned.toml"
    summary = tune_suite(
        tune_suite_file,
        all_variants=True,
        n_trials=2,
        confirm=2,
        export=exported,
        results=results,
        device="cpu",
        progress=False,
    )
    assert [(v.variant, v.complete) for v in summary.variants] == [("baseline", 2), ("noise", 2)]
    assert summary.confirmation is not None and summary.confirmation.statuses["ok"] == 4
    noise = tuning.study(results, "tinytune.noise")
    assert {"train.lr_g", "tricks.instance_noise.sigma"} <= set(noise.best_trial.params)

    tuned = load_suite(exported)
    assert tuned.suite.name == "tinytune.tuned" and tuned.suite.design == "variants"
    assert tuned.suite.seeds == (1, 2)  # fresh: trials trained with seed 0
    jobs = {(job.variant, job.seed): job for job in expand(tuned, str(exported))}
    best = tuning.study(results).best_trial.params
    assert jobs["baseline", 1].config.train.lr_g == best["train.lr_g"]
    sigma = jobs["noise", 1].config.tricks["instance_noise"]["sigma"]
    assert sigma == noise.best_trial.params["tricks.instance_noise.sigma"]
    confirmed = {record["job_id"] for record in ResultsStore(results).records(["tinytune.tuned"])}
    assert {job.id for job in jobs.values()} == confirmed  # `bench run` on it has nothing to do
    meta = ResultsStore(results).read_suite("tinytune.tuned")
    assert meta["reference_variant"] == "baseline" and set(meta["tuned_from"]) == {
        "baseline",
        "noise",
    }
    # the confirmation is one suite definition, the same one the exported suite runs
    assert {job.revision for job in jobs.values()} == {meta["revision"]}
    assert len(load_results(results, ["tinytune.tuned"])) == 4


def test_sampler_is_reproducible_per_trial_and_differs_across_trials() -> None:
    tune = TuneConfig(sampler="tpe", sampler_startup_trials=2)

    def proposals(seed: int) -> list[float]:
        sampler = TrialSeededSampler(lambda s: base_sampler(tune, s), seed)
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=4)
        return [t.params["x"] for t in study.trials]

    first = proposals(0)
    assert proposals(0) == first
    assert len(set(first)) == 4 and proposals(1) != first


def test_a_study_of_another_config_is_refused(
    tune_suite_file: Path, tmp_path: Path, tuning
) -> None:
    results = tmp_path / "results"
    tune_suite(tune_suite_file, n_trials=1, results=results, device="cpu", progress=False)
    with pytest.raises(TuneError, match=r"another config, search space.*--study NAME"):
        tune_suite(
            tune_suite_file,
            ["train.batch_size=16"],
            n_trials=1,
            results=results,
            device="cpu",
            progress=False,
        )
    assert states(tuning.study(results)) == ["COMPLETE"]


def test_timeout_starts_no_trial_after_the_deadline(tune_suite_file: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    summary = tune_suite(tune_suite_file, timeout=0, results=results, device="cpu", progress=False)
    assert summary.timed_out and summary.variants[0].complete == 0
    assert "stopped by --timeout" in format_summary(summary)
