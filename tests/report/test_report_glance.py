"""The report at a glance: verdict styles in one place, the forest plot (margin band, verdict
colours), slope graphs for paired seeds, the short table in every format, the optional
budget-sensitive column and the index of several suites."""

import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.report import build_report, headline_text, load_results
from bench.report.headline import suite_headline
from bench.report.summary import index_line, reasons, seed_differences, short_table
from bench.report.verdict_plots import forest_plot, slope_graph
from bench.report.verdict_style import MARGIN_COLOUR, STYLES, every_style, style

SHORT = ["variant", "FID effect [95% CI]", "verdict", "seeds", "P(improvement)", "adjusted p"]


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], float)


def pixels_near(png: bytes, colour: np.ndarray, tolerance: float = 6.0) -> int:
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), float)
    return int((np.abs(image - colour).max(axis=-1) <= tolerance).sum())


@pytest.fixture
def labels(results):
    """8 paired seeds: `better` lowers FID a lot, `same` does nothing, `worse` raises it."""
    results.planted("labels", {"baseline": 30.0, "better": 20.0, "same": 30.0, "worse": 40.0})
    jobs = load_results(results.root)
    return results, jobs, suite_headline(jobs)


def test_every_verdict_has_one_style_and_unknown_ones_look_undecided() -> None:
    for verdict in ("helps", "hurts", "equivalent", "undecided", "reference"):
        assert style(verdict) is STYLES[verdict]
    assert style("something new") is STYLES["undecided"]
    assert {"equivalent", "undecided"} <= set(every_style())
    colours = [s.colour for s in STYLES.values()]
    markers = [(s.marker, s.filled) for s in STYLES.values()]
    assert len(set(colours)) == len(colours) and len(set(markers)) == len(markers)


def test_the_page_colours_verdict_cells_from_the_one_style_table(labels, tmp_path) -> None:
    results, _, _ = labels
    page = build_report(results.root, ["labels"], tmp_path / "r.html").read_text()
    for name in ("helps", "hurts", "equivalent", "undecided"):
        rule = re.search(rf"td\.verdict-{name} \{{ color: (#\w+);", page)
        assert rule, name
        assert rule.group(1) == style(name.replace("-", " ")).colour


def test_forest_plot_colours_rows_by_verdict_and_draws_the_margin_only_when_given(
    labels,
) -> None:
    _, jobs, headline = labels
    assert list(headline["verdict"]) == ["reference", "helps", "undecided", "hurts"]
    differences = seed_differences(jobs, headline)
    assert len(differences) == 3 * 8 and differences["paired"].all()
    plain = forest_plot(headline.assign(margin=np.nan), differences)  # a metric without one
    band = rgb(MARGIN_COLOUR) * 0.13 + 255 * 0.87  # the band's alpha over white
    assert pixels_near(plain, band, 3) == 0
    for verdict in ("helps", "hurts", "undecided"):
        assert pixels_near(plain, rgb(STYLES[verdict].colour)) > 50, verdict
    assert pixels_near(plain, rgb(STYLES["equivalent"].colour)) == 0
    with_margin = forest_plot(headline.assign(margin=[np.nan, 1.0, 1.0, 1.0]), differences)
    assert pixels_near(with_margin, band, 3) > 500


def test_forest_plot_needs_a_variant(labels) -> None:
    _, jobs, headline = labels
    only_reference = headline.iloc[:1]
    assert forest_plot(only_reference, seed_differences(jobs, only_reference)) is None


def test_paired_suites_get_slope_graphs_and_unpaired_ones_box_plots(results, tmp_path) -> None:
    results.planted("paired", {"baseline": 30.0, "better": 25.0})
    results.suite("unpaired")
    for seed in range(6):
        results.job("unpaired", "baseline", seed, {"fid": 30.0 + seed})
        results.job("unpaired", "other", seed + 10, {"fid": 25.0 + seed})
    page = build_report(results.root, None, tmp_path / "r.html").read_text()
    paired, unpaired = page.split('id="suite-1"')
    assert 'alt="fid per seed: paired"' in paired and 'alt="fid per seed"' not in paired
    assert 'alt="fid per seed"' in unpaired and "per seed: paired" not in unpaired
    png = slope_graph(load_results(results.root, ["paired"]), "fid")
    assert pixels_near(png, rgb(STYLES["helps"].colour)) > 50


def test_the_short_table_has_a_budget_column_only_when_the_data_carry_one(labels) -> None:
    _, _, headline = labels
    assert list(short_table(headline).columns) == SHORT
    flagged = headline.assign(budget_sensitive=[None, True, False, False])
    shown = short_table(flagged)
    assert list(shown.columns) == [*SHORT, "budget-sensitive"]
    assert list(shown["budget-sensitive"]) == ["", "yes", "", ""]
    assert any(line.startswith("better (helps):") and "budget" in line for line in reasons(flagged))
    assert not any(line.startswith("better") for line in reasons(headline))
    as_bools = short_table(headline.assign(budget_sensitive=[False, False, True, False]))
    assert list(as_bools["budget-sensitive"]) == ["", "", "yes", ""]


def test_markdown_and_csv_carry_the_same_short_table(labels) -> None:
    results, _, _ = labels
    markdown = headline_text(results.root, ["labels"], "md")
    lines = markdown.split("## labels")[1].strip().splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:6]]
    assert header == SHORT
    csv = pd.read_csv(io.StringIO(headline_text(results.root, ["labels"], "csv")), dtype=str)
    assert list(csv.columns[4 : 4 + len(SHORT)]) == SHORT
    assert csv[SHORT].fillna("").to_numpy().tolist() == rows
    assert {"ci_low", "ci_high", "p_adjusted", "median_fid"} <= set(csv.columns)


def test_the_index_names_each_suites_decided_tricks(labels, tmp_path) -> None:
    results, _, headline = labels
    effect = headline.set_index("variant")["difference"]
    expected = (
        f"better helps ({effect['better']:.4g} FID); worse hurts (+{effect['worse']:.4g} FID)"
    )
    assert index_line(headline) == expected + "; 1 undecided"
    equivalent = headline.assign(
        verdict=["reference", "helps", "equivalent", "hurts"], margin=[np.nan, 1, 1, 1]
    )
    assert "same equivalent within ±1 FID" in index_line(equivalent)
    results.planted("other", {"baseline": 30.0, "b": 45.0})
    page = build_report(results.root, None, tmp_path / "r.html").read_text()
    nav = page.split('<nav class="index">')[1].split("</nav>")[0]
    assert '<a href="#suite-0">labels</a>: better helps' in nav
    assert '<a href="#suite-1">other</a>: b hurts (+' in nav
    single = build_report(results.root, ["other"], tmp_path / "one.html").read_text()
    assert '<nav class="index">' not in single
    assert '<a href="#methods">How verdicts are reached</a>' in single
    assert 'id="methods"' in single and "Holm-Bonferroni" in single
