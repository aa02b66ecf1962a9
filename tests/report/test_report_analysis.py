"""What a report states about its analysis: the primary metric and every metric's verdict,
the correction, the floor, exploratory suites, and expected against observed effects."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.errors import ResultsError
from bench.report import build_report, headline_text
from bench.report.headline import agreement


def labelled_suite(results, **settings) -> None:
    """8 paired seeds; `better` lowers FID by a lot and leaves IS alone, `worse` raises FID."""
    results.suite("labels")
    meta_path = results.root / "labels" / "suite.json"
    meta = json.loads(meta_path.read_text()) | settings
    meta_path.write_text(json.dumps(meta))
    rng = np.random.default_rng(1)
    seed_effect = rng.normal(30, 3, 8)
    shifts = {"baseline": 0.0, "better": -8.0, "worse": 8.0, "same": 0.0}
    for variant, shift in shifts.items():
        for seed in range(8):
            fid = seed_effect[seed] + shift + rng.normal(0, 0.5)
            isc = 2.0 + rng.normal(0, 0.1) + (1.0 if variant == "worse" else 0.0)
            results.job("labels", variant, seed, {"fid": fid, "isc": isc}, files=False)


def csv_table(results, *args) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(headline_text(results.root, ["labels"], "csv", *args)))


def test_every_metric_gets_a_verdict_and_the_primary_one_leads(results) -> None:
    labelled_suite(results)
    markdown = headline_text(results.root, ["labels"], "md")
    per_metric = markdown.split("Every scored metric")[1]
    assert "| variant | FID (lower is better), primary | IS (higher is better) |" in per_metric
    assert "| worse | hurts (p " in per_metric and "| helps (p " in per_metric
    table = csv_table(results).set_index("variant")
    assert table.loc["better", "metric"] == "fid" and table.loc["better", "verdict"] == "helps"


def test_the_suite_primary_metric_and_report_metric_choose_the_headline(results) -> None:
    labelled_suite(results, primary_metric="isc")
    table = csv_table(results).set_index("variant")
    assert set(table["metric"]) == {"isc"}
    assert table.loc["worse", "verdict"] == "helps"  # IS is higher for `worse`
    assert set(csv_table(results, "fid")["metric"]) == {"fid"}
    out = results.root.parent / "by_fid.md"
    argv = ["report", "--results", str(results.root), "--format", "md", "--metric", "fid"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "FID (lower is better), primary" in out.read_text()
    with pytest.raises(ResultsError, match="metric 'kid' was not recorded"):
        csv_table(results, "kid")


def test_the_correction_is_chosen_and_recorded(results, capsys) -> None:
    labelled_suite(results, correction="bh")
    assert set(csv_table(results)["correction"]) == {"bh"}
    assert "Correction: Benjamini-Hochberg over 3 comparisons" in headline_text(
        results.root, ["labels"], "md"
    )
    code = main(
        ["report", "--results", str(results.root), "--format", "csv", "--correction", "holm"]
    )
    assert code == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(table["correction"]) == {"holm"}


def test_the_report_states_the_floor_and_an_exploratory_reason(results, tmp_path) -> None:
    labelled_suite(results, exploratory="a pilot to size the real run")
    markdown = headline_text(results.root, ["labels"], "md")
    assert "Smallest achievable adjusted p with these seeds: 0.023." in markdown
    assert "EXPLORATORY suite: a pilot to size the real run" in markdown
    page = build_report(results.root, ["labels"], tmp_path / "r.html").read_text()
    assert '<p class="meta exploratory">' in page and "a pilot to size the real run" in page
    assert "paired, 8 seeds" in page and "CI rules out effects over" in page


def test_expected_effects_are_shown_against_the_observed_verdict(results) -> None:
    expect = {
        "better": {"direction": "helps", "source": "Salimans et al. 2016", "metric": None},
        "worse": {"direction": "helps", "source": "folklore", "metric": None},
        "same": {"direction": "hurts", "source": "a blog", "metric": None},
    }
    labelled_suite(results, expect=expect, margin={"fid": 0.05})  # too tight to show
    table = csv_table(results).set_index("variant")
    assert table.loc["better", "expected"] == "helps (Salimans et al. 2016) on FID"
    assert table.loc["better", "agreement"] == "agree"
    assert table.loc["worse", "agreement"] == "disagree"
    assert table.loc["same", "agreement"] == "undecided"
    markdown = headline_text(results.root, ["labels"], "md")
    assert "| expected | agreement |" in markdown
    labelled_suite(results, expect=expect)  # the registry's 1 FID: `same` shows no such effect
    table = csv_table(results).set_index("variant")
    assert table.loc["same", "verdict"] == "equivalent"
    assert table.loc["same", "agreement"] == "disagree"


def test_agreement_rules() -> None:
    assert agreement("helps", "helps") == "agree"
    assert agreement("helps", "hurts") == "disagree"
    assert agreement("hurts", "undecided") == "undecided"
    assert agreement("helps", "equivalent") == "disagree"
    assert agreement("no effect", "equivalent") == "agree"
    assert agreement("no effect", "undecided") == "undecided"
    assert agreement("no effect", "helps") == "disagree"


def test_the_report_uses_the_margin_the_suite_declared(results) -> None:
    labelled_suite(results, margin={"fid": 0.05})
    markdown = headline_text(results.root, ["labels"], "md")
    assert "Equivalence margin: ±0.05 FID (declared by the suite)." in markdown
    labelled_suite(results, default_margin={"fid": 2.0})  # the registry's, when it ran
    assert "Equivalence margin: ±2 FID (the metric registry's default)." in headline_text(
        results.root, ["labels"], "md"
    )
    labelled_suite(results, margin={"fid": -1})
    with pytest.raises(ResultsError, match=r"margin\.fid = -1: expected a positive, finite"):
        headline_text(results.root, ["labels"], "md")
