"""The report in a real headless browser: no console errors, every image decodes, the rows,
the forest plot and the first verdict on the first screen, nothing wider than the window and
no header broken inside a word.

Uses Debian's Chromium (installed by `.ci/run`) driven by Playwright; skipped where either is
missing. A screenshot is written to reports/browser-check.png for people to look at.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.report import build_report
from bench.report.trends import HISTORY_FILE

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
LONG_NAME = "one_sided_label_smoothing+instance_noise+spectral_norm"
VARIANTS = {"baseline": 30.0, "noisy_labels": 20.0, "instance_noise": 30.5, LONG_NAME: 29.0}
WIDER = """() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
        .filter(e => e.getBoundingClientRect().right > width + 1)
        .map(e => `${e.tagName}.${e.className}: ${(e.innerText || e.alt || "").slice(0, 60)}`);
}"""
BROKEN_WORDS = """() => {
    const broken = [];
    for (const element of document.querySelectorAll("h1, h2, h3, h4, th")) {
        const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const word of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, word.index);
                range.setEnd(node, word.index + word[0].length);
                const boxes = [...range.getClientRects()].filter(r => r.width && r.height);
                if (boxes.length > 1) broken.push(word[0]);
            }
        }
    }
    return broken;
}"""
OPEN_DETAILS = "() => document.querySelectorAll('details').forEach(d => { d.open = true; })"


@pytest.fixture
def report(results, history: Path, tmp_path: Path) -> Path:
    """A page with every wide thing at once: a headline with expectations, long variant names
    and long reasons, a grid of samples, a tuning section and nightly trends."""
    rng = np.random.default_rng(0)
    results.suite("labels")
    for variant, mean in VARIANTS.items():
        for seed in range(8):
            end = float(rng.normal(mean, 1.0))
            points = [{"step": step, "fid": end + (100 - step) / 10} for step in (25, 50, 75, 100)]
            results.job("labels", variant, seed, {"fid": end}, history_fid=True, evaluations=points)
    detail = "d_grad_norm 150 is above the explosion threshold 100 at step 50 " * 3
    results.job(
        "labels",
        LONG_NAME,
        8,
        status="diverged",
        diverged_at=50,
        events=[{"step": 50, "detector": "gradient_explosion", "detail": detail}],
    )
    meta_path = results.root / "labels" / "suite.json"
    meta = json.loads(meta_path.read_text())
    claim = {"direction": "helps", "source": "Salimans et al. 2016, Improved Techniques"}
    meta["expect"] = {LONG_NAME: claim, "noisy_labels": claim}
    meta_path.write_text(json.dumps(meta))
    results.trials([(v, n, "complete", 40.0 - n * (i + 1), 1e-4 * (n + 1), n + 1, 1)
                    for i, v in enumerate(["baseline", LONG_NAME]) for n in range(3)])  # fmt: skip
    (results.root / HISTORY_FILE).write_text(history.read_text())
    return build_report(results.root, None, tmp_path / "report.html")


def test_report_loads_cleanly_in_chromium(report: Path) -> None:
    screenshot = REPO / "reports" / "browser-check.png"
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(report.as_uri(), wait_until="load")
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
    assert set(VARIANTS) <= set(first_cells)
    assert screenshot.stat().st_size > 10_000


def test_no_element_is_wider_than_the_window_nor_a_header_broken_in_a_word(report: Path) -> None:
    wider, broken = {}, {}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for width in (1400, 1000):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(report.as_uri(), wait_until="load")
            page.evaluate(OPEN_DETAILS)  # the full tables count too
            sections = page.eval_on_selector_all("h3", "hs => hs.map(h => h.innerText)")
            headers = page.eval_on_selector_all("th", "ths => ths.map(t => t.innerText)")
            wider[width] = page.evaluate(WIDER)
            broken[width] = page.evaluate(BROKEN_WORDS)
            page.close()
        browser.close()

    assert {"Per-seed results and training curves", "Tuning (s.trials)", "Regressions"} <= set(
        sections
    )
    assert "CI rules out effects over" in headers  # the folded full table was measured
    assert wider == {1400: [], 1000: []}
    assert broken == {1400: [], 1000: []}


def test_the_forest_plot_and_the_first_verdict_are_on_the_first_screen(report: Path) -> None:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(report.as_uri(), wait_until="load")
        forest = page.locator('img[alt^="forest plot"]').first.bounding_box()
        steps = page.locator('img[alt$="effect vs training steps"]').first.bounding_box()
        rows = page.locator(".short tbody tr")
        verdicts = rows.locator("td[class^=verdict-]").all_inner_texts()
        first = verdicts.index(next(v for v in verdicts if v != "reference"))
        row = rows.nth(first).bounding_box()
        browser.close()

    assert verdicts[0] == "reference"
    assert steps is not None and steps["x"] > forest["x"] + forest["width"] / 2  # beside it
    for box in (forest, steps, row):
        assert box is not None and box["height"] > 0
        assert box["y"] >= 0 and box["y"] + box["height"] <= 900, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1400, box
