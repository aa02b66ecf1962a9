"""A near-chance backbone marks the metrics scored on it in the headline, not only provenance."""

from __future__ import annotations

import pytest

from bench.report import headline_text
from bench.report.html import build_report

NEAR_CHANCE = {"backbone_test_accuracy": 0.567, "backbone_classes": 2, "dataset": "folder"}
GOOD = {"backbone_test_accuracy": 0.972, "backbone_classes": 10, "dataset": "digits"}


def plant(results, provenance: dict) -> None:
    results.suite("s")
    for variant, fid in (("baseline", 30.0), ("trick", 20.0)):
        for seed in range(8):
            metrics = {"fid": fid + seed / 10, "kid": 0.01 * fid, "class_coverage": 0.9}
            results.job("s", variant, seed, metrics, provenance=provenance)


def short_table(markdown: str) -> str:
    return markdown.split("Full table:")[0]


def test_a_near_chance_backbone_is_marked_in_the_headline(results, tmp_path) -> None:
    plant(results, NEAR_CHANCE)
    markdown = headline_text(results.root, ["s"], "md")
    lead = short_table(markdown)
    warning = next(line for line in lead.splitlines() if line.startswith("> **warning**"))
    assert "FID, KID are UNRELIABLE" in warning
    assert "dataset 'folder': test accuracy 0.567, chance 0.500 with 2 classes" in warning
    assert "| FID effect [95% CI] (UNRELIABLE) |" in lead
    full = markdown.split("Full table:")[1]
    assert "median fid (UNRELIABLE)" in full and "median kid (UNRELIABLE)" in full
    assert "class coverage (higher is better) |" in full, "no classifier was judged unreliable"
    page = build_report(results.root, ["s"], tmp_path / "report.html").read_text()
    head = page.split("forest plot")[0]
    assert "FID, KID are UNRELIABLE" in head
    assert "FID effect [95% CI] (UNRELIABLE)" in page


def test_a_near_chance_classifier_marks_the_class_metrics(results) -> None:
    weak = {**GOOD, "classifier_test_accuracy": 0.3, "classifier_classes": 3}
    plant(results, weak)
    markdown = headline_text(results.root, ["s"], "md")
    assert "class coverage is UNRELIABLE: the classifier it is scored on" in short_table(markdown)
    assert "| FID effect [95% CI] |" in short_table(markdown)


@pytest.mark.parametrize(
    "provenance",
    [GOOD, {"backbone_test_accuracy": 0.567}, {**NEAR_CHANCE, "backbone_classes": "two"}],
    ids=["good", "classes not recorded", "classes not a number"],
)
def test_no_marker_without_a_judged_near_chance_backbone(results, provenance) -> None:
    plant(results, provenance)
    markdown = headline_text(results.root, ["s"], "md")
    assert "UNRELIABLE" not in markdown
    assert "| FID effect [95% CI] |" in short_table(markdown)
