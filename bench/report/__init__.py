"""Reports: results -> a pandas table, statistics over seeds, plots and one HTML page.

`load_results` / `export_table` read the results store; `headline_table` compares every
variant with its suite's reference; `build_report` writes the self-contained HTML page and
`headline_text` the same headline as Markdown or CSV.
"""

from bench.report.headline import format_markdown, headline_table, headline_text
from bench.report.html import build_report
from bench.report.table import export_table, load_histories, load_results, load_suites

__all__ = [
    "build_report",
    "export_table",
    "format_markdown",
    "headline_table",
    "headline_text",
    "load_histories",
    "load_results",
    "load_suites",
]
