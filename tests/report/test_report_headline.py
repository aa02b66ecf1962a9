import io
import time

import numpy as np
import pandas as pd

from bench.report import headline_table, headline_text, load_results


def test_markdown_and_csv_headlines(results) -> None:
    results.planted("labels", {"baseline": 50, "smoothing": 40})
    markdown = headline_text(results.root, ["labels"], "md")
    assert "## labels" in markdown
    assert "FID, lower is better" in markdown
    short, full = markdown.split("Full table:")
    full, per_metric = full.split("Every scored metric")
    for lines in (short, full):
        table_lines = [line for line in lines.splitlines() if line.startswith("| ")]
        assert len(table_lines) == 1 + 2
        assert "| smoothing |" in table_lines[2] and "| helps |" in table_lines[2]
    assert "| smoothing | helps (p " in per_metric
    csv = pd.read_csv(io.StringIO(headline_text(results.root, None, "csv")))
    assert list(csv["variant"]) == ["baseline", "smoothing"]
    assert {"suite", "metric", "median_fid", "ci_low", "ci_high", "verdict"} <= set(csv.columns)


def test_toy_suite_falls_back_to_a_higher_is_better_metric(results) -> None:
    results.planted("ring", {"baseline": 4, "unrolled": 8}, metric="modes_covered", sd=0.1)
    table = headline_table(load_results(results.root))
    assert set(table["metric"]) == {"modes_covered"}
    assert table.set_index("variant").loc["unrolled", "verdict"] == "helps"


def test_two_thousand_jobs_load_and_compare_in_seconds(results) -> None:
    rng = np.random.default_rng(0)
    for suite in ("big_a", "big_b"):
        results.suite(suite)
        for variant in ["baseline", *(f"trick_{i}" for i in range(99))]:
            for seed in range(10):
                fid = float(rng.normal(50, 2))
                results.job(suite, variant, seed, {"fid": fid, "isc": 2.0}, files=False)
    started = time.perf_counter()
    table = headline_table(load_results(results.root))
    elapsed = time.perf_counter() - started
    assert len(table) == 200
    assert table["seeds"].sum() == 2000
    assert elapsed < 5, f"load + headline of 2000 jobs took {elapsed:.1f}s"
