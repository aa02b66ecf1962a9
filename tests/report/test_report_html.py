import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.errors import ResultsError
from bench.report import build_report

GRADIENT_EXPLOSION = {"step": 50, "detector": "gradient_explosion", "detail": "d_grad_norm 150"}
COLLAPSE = {"step": 75, "detector": "d_loss_collapse", "detail": "D loss collapsed <fast>"}


class Tables(HTMLParser):
    """Every <table> on the page as a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data) -> None:
        if self.cell is not None:
            self.cell.append(data)


@pytest.fixture(scope="module")
def page(tmp_path_factory, results_builder) -> str:
    root = tmp_path_factory.mktemp("report") / "results"
    results = results_builder(root)
    results.suite("labels", description="Label tricks <b>on digits</b>")
    means = {"baseline": 50, "smoothing": 40, "soft_labels": 60}
    for variant, mean in means.items():
        for seed in range(8):
            results.job("labels", variant, seed, {"fid": mean + seed, "isc": 2.0}, history_fid=True)
    results.job(
        "labels",
        "soft_labels",
        8,
        status="diverged",
        diverged_at=75,
        events=[GRADIENT_EXPLOSION, COLLAPSE],
    )
    results.suite("grid", design="grid", tricks=("a", "b"))
    for a in ("off", "a"):
        for b in ("off", "b"):
            name = "+".join(x for x in (a, b) if x != "off") or "baseline"
            for seed in range(2):
                fid = 50 - 4 * (a != "off") - 2 * (b != "off") + seed
                results.job("grid", name, seed, {"fid": fid}, factors={"a": a, "b": b})
    path = build_report(root, None, root.parent / "report.html")
    assert path == root.parent / "report.html"
    assert [p.name for p in path.parent.glob("*.html")] == ["report.html"]
    return path.read_text()


def test_page_is_self_contained(page: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page and "url(" not in page
    assert page.count('src="data:image/png;base64,') >= 3 + 4 + 8


def test_headline_has_one_row_per_variant_and_the_verdicts(page: str) -> None:
    parser = Tables()
    parser.feed(page.split('id="suite-1"')[1])
    short, full = parser.tables[0], parser.tables[1]
    assert short[0] == [
        *("variant", "FID effect [95% CI]", "verdict", "seeds", "P(improvement)", "adjusted p")
    ]
    rows = {row[0]: row for row in short[1:]}
    assert list(rows) == ["baseline", "smoothing", "soft_labels"]
    verdict = short[0].index("verdict")
    assert [rows[v][verdict] for v in rows] == ["reference", "helps", "hurts"]
    assert rows["soft_labels"][short[0].index("seeds")] == "9"
    full_rows = {row[0]: row for row in full[1:]}
    assert full_rows["soft_labels"][full[0].index("diverged")] == "1"
    assert "<li>soft_labels (hurts): adjusted p = " in page  # not plain: a seed diverged
    assert "smoothing (helps)" not in page
    assert "lower is better" in page
    assert "Holm-Bonferroni" in page


def test_user_text_is_escaped(page: str) -> None:
    assert "Label tricks &lt;b&gt;on digits&lt;/b&gt;" in page
    assert "<b>on digits" not in page
    assert "D loss collapsed &lt;fast&gt;" in page


def test_page_has_every_section(page: str) -> None:
    for heading in ("Samples", "Failure modes", "Cost", "Provenance", "Grid: main effects"):
        assert heading in page
    for alt in ("fid per seed", "fid over training", "losses over training", "samples of"):
        assert f'alt="{alt}' in page
    assert "domain-abc123" in page
    assert "[suite]" in page


def test_default_path_and_mixed_provenance(results, tmp_path: Path, monkeypatch) -> None:
    results.suite("mixed")
    for seed in range(2):
        results.job("mixed", "baseline", seed, {"fid": 50.0}, files=False)
        results.job("mixed", "other", seed, {"fid": 40.0}, provenance={"num_generated": 500})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ResultsError, match="num_generated"):
        build_report(results.root, ["mixed"])
    results.suite("clean")
    for seed in range(2):
        results.job("clean", "baseline", seed, {"fid": 50.0}, files=False)
    assert build_report(results.root, ["clean"]) == Path("reports/clean.html")
    assert (tmp_path / "reports" / "clean.html").is_file()


def test_a_variant_name_with_markup_is_escaped(results, tmp_path: Path) -> None:
    script = '<script>alert("x")</script>'
    results.suite("escape", description="<img src=x onerror=alert(1)>")
    for seed in range(2):
        results.job("escape", "baseline", seed, {"fid": 50.0})
        results.job("escape", script, seed, {"fid": 40.0})
    page = build_report(results.root, ["escape"], tmp_path / "report.html").read_text()
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    parser = Tables()
    parser.feed(page)
    assert script in [row[0] for row in parser.tables[0]]
