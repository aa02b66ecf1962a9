"""Screenshots of a `bench report` page for the README, taken in headless Chromium.

Builds the HTML report of a results folder (`bench report`'s page, nothing added) and saves
what a reader sees first: the top of the page in a 1400x900 and a 1000x900 window
(`report-1400.png`, `report-1000.png`), and with `--full-page` the whole page at both widths
(`report-1400-full.png`, ...). Needs Chromium (`/usr/bin/chromium`) and Playwright, as the
browser test does. The README's images come from the main job, run fresh on the final code:

    bench run suites/label_tricks.toml --results /tmp/shots
    PYTHONPATH=. python benchmarks/report_screenshots.py --results /tmp/shots --out docs/img
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.report import build_report

WIDTHS = (1400, 1000)
HEIGHT = 900
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def screenshots(page_file: Path, out: Path, full_page: bool) -> list[Path]:
    """PNGs of `page_file` at each of `WIDTHS`: the first screen, and the whole page too."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("report_screenshots: no chromium on PATH (apt-get install chromium)")
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": HEIGHT})
            page.goto(page_file.as_uri(), wait_until="load")
            shots = [(out / f"report-{width}.png", False)]
            shots += [(out / f"report-{width}-full.png", True)] if full_page else []
            for path, whole in shots:
                page.screenshot(path=str(path), full_page=whole)
                written.append(path)
            page.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="a results folder (bench run)")
    parser.add_argument("--suite", action="append", help="suites to show (default: all)")
    parser.add_argument("--out", default="docs/img", help="folder for the PNGs")
    parser.add_argument("--full-page", action="store_true", help="also the whole page")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        page_file = build_report(args.results, args.suite, Path(scratch) / "report.html")
        for path in screenshots(page_file, out, args.full_page):
            print(path)


if __name__ == "__main__":
    main()
