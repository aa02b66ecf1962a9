"""The report's one markup module: escaping, the table's cell classes, figures, sections."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from bench.report import markup

REPORT = Path(markup.__file__).parent


def test_table_escapes_and_classes_its_cells() -> None:
    frame = pd.DataFrame(
        {
            "variant": ["<b>a</b>", "one_sided_label_smoothing+instance_noise"],
            "seeds": ["3", "4"],
            "verdict": ["undecided", "helps"],
            "reason": ["short", "a reason long enough to be prose, with words to wrap at"],
        }
    )
    html = markup.table(frame, numeric=["seeds"])
    assert html.startswith('<div class="table-wrap"><table><thead><tr><th>variant</th>')
    assert '<th class="number">seeds</th>' in html
    assert "<tr><td>&lt;b&gt;a&lt;/b&gt;</td>" in html and "<b>" not in html
    assert '<td class="number">3</td><td class="verdict-undecided">undecided</td>' in html
    assert '<td class="token">one_sided_label_smoothing+instance_noise</td>' in html
    assert '<td class="prose">a reason long enough' in html


def test_figure_section_and_paragraph() -> None:
    assert markup.figure(None, "nothing") == ""
    img = markup.figure(b"\x89PNG", 'a "plot"', caption="<i>c</i>")
    assert img == (
        '<figure><img alt="a &#34;plot&#34;" src="data:image/png;base64,iVBORw==">'
        "<figcaption>&lt;i&gt;c&lt;/i&gt;</figcaption></figure>"
    )
    missing = markup.figure(None, "samples", "v", missing="no samples")
    assert missing == '<figure><p class="note">no samples</p><figcaption>v</figcaption></figure>'
    assert markup.paragraph("") == "" and markup.paragraph("a < b", "note") == (
        '<p class="note">a &lt; b</p>'
    )
    section = markup.section("T <1>", ["", "text & more", markup.paragraph("p")], anchor="s-1")
    assert section.startswith('<section id="s-1"><h2>T &lt;1&gt;</h2>')
    assert "\ntext &amp; more\n<p>p</p>\n</section>" in section
    nested = markup.section("Inner", [section], level=3, css="tuning")
    assert nested.startswith('<section class="tuning"><h3>Inner</h3>') and section in nested


def test_page_and_markdown() -> None:
    index = [("suite-0", "<s>", "a <b> helps"), ("suite-1", "t", "")]
    styles = {"no verdict": SimpleNamespace(colour="#777", background="#fff", bold=False)}
    page = markup.page("<t>", "meta & more", index, ["", markup.paragraph("x")], styles)
    assert "<title>&lt;t&gt;</title>" in page and '<a href="#suite-0">&lt;s&gt;</a>' in page
    assert ": a &lt;b&gt; helps</li>" in page and '<a href="#suite-1">t</a></li>' in page
    assert "td.verdict-no-verdict { color: #777; background: #fff; }" in page
    alone = markup.page("t", "m", index[:1], [], styles)
    assert "<nav" not in alone
    assert "meta &amp; more" in page and "<p>x</p>" in page
    frame = pd.DataFrame({"a": ["x|y"], "b": ["2"]})
    assert markup.markdown_table(frame) == ["| a | b |", "|---|---|", "| x\\|y | 2 |"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    found |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    found |= {
        f"{n.module}.{a.name}"
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module
        for a in n.names
    }
    return found


def test_markup_is_a_leaf_and_only_the_package_imports_the_page() -> None:
    assert not any(name.startswith("bench") for name in _imports(REPORT / "markup.py"))
    importers = [
        path.name for path in sorted(REPORT.glob("*.py")) if "bench.report.html" in _imports(path)
    ]
    assert importers == ["__init__.py"]
