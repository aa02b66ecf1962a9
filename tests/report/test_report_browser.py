"""The report in a real headless browser: no console errors, every image decodes, the rows.

Uses Debian's Chromium (installed by `.ci/run`) driven by Playwright; skipped where either is
missing. A screenshot is written to reports/browser-check.png for people to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.report import build_report

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_report_loads_cleanly_in_chromium(results, tmp_path: Path) -> None:
    variants = {"baseline": 30.0, "noisy_labels": 20.0, "instance_noise": 30.5}
    results.planted("browser", variants, history_fid=True)
    page_path = build_report(results.root, ["browser"], tmp_path / "report.html")
    screenshot = REPO / "reports" / "browser-check.png"

    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(page_path.as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.alt])"
        )
        first_cells = page.eval_on_selector_all(
            "section table:first-of-type tbody tr td:first-child",
            "tds => tds.map(t => t.innerText)",
        )
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()

    assert errors == []
    assert len(images) >= 5
    broken = [alt for complete, width, alt in images if not (complete and width > 0)]
    assert broken == [], f"images that did not decode: {broken}"
    assert set(variants) <= set(first_cells)
    assert screenshot.stat().st_size > 10_000
