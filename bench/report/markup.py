"""All of the report's markup: Jinja2 templates (templates/) with autoescaping, and Markdown tables.

One way to write each piece: `table`, `figure` (and `gallery` for small figures side by side,
`lead_figures` for the forest plot and the figure beside it), `section`, `details` (a folded
block), `paragraph` (with an optional link), `bullets`, `preformatted`, `page`. Each returns
`Markup` (HTML that is already safe); any other text given to them is escaped. The other
report modules compute what to say and call these; this module imports nothing from the
package.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

if TYPE_CHECKING:
    import pandas as pd

ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters["base64"] = lambda data: base64.b64encode(data).decode("ascii")
ENVIRONMENT.globals |= {
    "PROSE": 40,  # a longer cell with spaces is prose: its column gets room to wrap
    "TOKEN": 20,  # a longer cell without spaces (a variant name) may break anywhere
}


def _macros():
    return ENVIRONMENT.get_template("markup.html").module


def table(frame: pd.DataFrame, numeric: Collection[str] = (), css: str | None = None) -> Markup:
    """`frame` as a table whose cells are `str(value)`: `numeric` columns right-aligned, the
    `verdict` column coloured, long text given room to wrap; never wider than the page.
    `css`: a class for the table's wrapper (`short`: the verdict table, headers level)."""
    columns = [str(c) for c in frame.columns]
    rows = [[str(v) for v in row] for row in frame.itertuples(index=False)]
    return _macros().table(columns, rows, set(numeric), css)


def figure(
    png: bytes | None, alt: str, caption: str | None = None, missing: str | None = None
) -> Markup:
    """An embedded PNG, scaled to the page, with an optional caption; when there is no PNG,
    the `missing` note in its place, or nothing."""
    return _macros().figure(png, alt, caption, missing)


def gallery(figures: Iterable[Markup]) -> Markup:
    """Small figures side by side (sample grids)."""
    return _macros().gallery(list(figures))


def lead_figures(main: str, beside: str | None = None) -> Markup:
    """The figure that leads a suite (the forest plot) and, when given, the one beside it
    (the effect-vs-steps figure); they stack when the window is narrow."""
    return _macros().lead_figures(main, beside)


def section(
    title: str,
    parts: Iterable[str],
    *,
    level: int = 2,
    anchor: str | None = None,
    css: str | None = None,
) -> Markup:
    """`<section>` with an `<h{level}>` title and the non-empty `parts` (text is escaped)."""
    return _macros().section(title, [p for p in parts if p], level, anchor, css)


def details(summary: str, parts: Iterable[str]) -> Markup:
    """A folded `<details>` block: `summary` shows, the non-empty `parts` open on a click."""
    return _macros().details(summary, [p for p in parts if p])


def paragraph(text: str, css: str | None = None, link: tuple[str, str] | None = None) -> Markup:
    """A paragraph of `text` ending in `link` ((label, href)), or nothing when `text` is empty."""
    return _macros().paragraph(text, css, link)


def bullets(items: Iterable[str], css: str | None = None) -> Markup:
    """A list of `items`, or nothing when there are none."""
    return _macros().bullets(list(items), css)


def preformatted(text: str) -> Markup:
    """`text` verbatim (a suite file), scrolling sideways when its lines are long."""
    return _macros().preformatted(text)


def page(
    title: str,
    meta: str,
    index: Iterable[tuple[str, str, str]],
    body: Iterable[str],
    verdict_styles: dict[str, object],
) -> str:
    """The whole self-contained page: inline CSS, no scripts. `index`: (anchor, label, line)
    per entry, shown when there are two or more; `verdict_styles`: each verdict's style
    (`colour`, `background`, `bold`) by name, for the verdict cells."""
    return ENVIRONMENT.get_template("report.html").render(
        title=title,
        meta=meta,
        index=list(index),
        body=[part for part in body if part],
        verdict_styles=verdict_styles,
    )


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """`frame` as the lines of a Markdown table, `|` in cells escaped."""
    shown = frame.replace({"\\|": "\\\\|"}, regex=True)
    return [
        "| " + " | ".join(shown.columns) + " |",
        "|" + "---|" * len(shown.columns),
        *("| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)),
    ]
