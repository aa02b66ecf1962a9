import io
import json

import pandas as pd
import pytest

from bench.errors import ResultsError
from bench.report import export_table, load_histories, load_results

NOISY = {"tricks": {"noisy_labels": {"flip_probability": 0.05}}}


def small_suite(results) -> None:
    results.suite("labels", tricks=("noisy_labels",))
    for seed in range(3):
        results.job("labels", "baseline", seed, {"fid": 50.0 + seed, "isc": 2.0})
        results.job(
            "labels",
            "noisy_labels",
            seed,
            {"fid": 40.0 + seed, "isc": 2.5},
            factors={"noisy_labels": "noisy_labels"},
            **NOISY,
        )
    results.job(
        "labels",
        "noisy_labels",
        3,
        **NOISY,
        status="diverged",
        diverged_at=50,
        events=[
            {"step": 25, "detector": "gradient_explosion", "detail": "d_grad_norm reached 120"},
            {"step": 50, "detector": "d_loss_collapse", "detail": "D loss collapsed"},
        ],
    )


def test_one_row_per_job_with_flat_columns(results) -> None:
    small_suite(results)
    jobs = load_results(results.root)
    assert len(jobs) == 7
    assert list(jobs.columns[:4]) == ["suite", "design", "reference_variant", "variant"]
    expected = {
        "fid",
        "isc",
        "provenance.backbone",
        "provenance.num_generated",
        "wall_time_s",
        "steps_per_s",
        "trick.noisy_labels",
        "trick.noisy_labels.flip_probability",
        "factor.noisy_labels",
        "config.train.steps",
        "events.d_loss_collapse",
        "version.torch",
        "job_dir",
    }
    assert expected <= set(jobs.columns)
    noisy = jobs[jobs["variant"] == "noisy_labels"]
    assert noisy["trick.noisy_labels"].all()
    assert not jobs.loc[jobs["variant"] == "baseline", "trick.noisy_labels"].any()
    diverged = jobs[jobs["status"] == "diverged"].iloc[0]
    assert diverged["diverged_by"] == "d_loss_collapse"
    assert diverged["events.gradient_explosion"] == 1
    assert pd.isna(diverged["fid"])
    assert jobs["config.eval.metrics"].iloc[0] == '["fid", "isc"]'


def test_histories_are_stacked_with_job_keys(results) -> None:
    small_suite(results)
    history = load_histories(load_results(results.root))
    assert {"suite", "variant", "seed", "job_id", "step", "d_loss"} <= set(history.columns)
    assert history.groupby("job_id").size().max() == 4
    assert history["step"].max() == 100


def test_export_csv_and_json(results) -> None:
    small_suite(results)
    exported = pd.read_csv(io.StringIO(export_table(results.root, ["labels"], "csv")))
    assert len(exported) == 7
    assert {"suite", "variant", "seed", "status", "job_id", "fid"} <= set(exported.columns)
    records = json.loads(export_table(results.root, None, "json"))
    assert len(records) == 7
    assert {r["status"] for r in records} == {"ok", "diverged"}


def test_unknown_suite_and_empty_results_are_refused(results, tmp_path) -> None:
    small_suite(results)
    with pytest.raises(ResultsError, match=r"no suite.*nope"):
        load_results(results.root, ["nope"])
    with pytest.raises(ResultsError, match="no results yet"):
        load_results(tmp_path / "empty")
    results.suite("pending")
    with pytest.raises(ResultsError, match="no finished jobs"):
        load_results(results.root, ["pending"])
