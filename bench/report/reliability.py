"""Metrics scored on a near-chance backbone, marked where the verdicts are read.

Each image job records the test accuracy and class count of the backbone its image metrics
(FID, KID, IS, precision/recall, density/coverage) were computed on, and of the classifier
behind class and mode coverage (`provenance.backbone_*`, `provenance.classifier_*`). Where
any pooled job's backbone is unreliable by `bench.metrics.reliability`, every metric scored
on it is unreliable: the headline says so above the verdict table and its metric names carry
`UNRELIABLE_MARK`, so it is read before any verdict, not found in the provenance table.
Jobs recorded before the class count was (no `*_classes`) are not judged.
"""

from __future__ import annotations

import pandas as pd

from bench.metric_registry import IMAGE, LABELS, STACKED, comparable_metrics, metric
from bench.metrics.reliability import Reliability, judge
from bench.report.verdicts import metric_label

UNRELIABLE_MARK = "UNRELIABLE"
# What was scored on what: the recorded (accuracy, classes) columns and the metric scopes.
SCORERS = {
    "backbone": ("backbone_test_accuracy", "backbone_classes", (IMAGE,)),
    "classifier": ("classifier_test_accuracy", "classifier_classes", (LABELS, STACKED)),
}


def unreliable_metrics(jobs: pd.DataFrame) -> dict[str, str]:
    """Each recorded comparable metric scored on an unreliable backbone or classifier, with
    the sentence saying why (one per backbone, shared by its metrics)."""
    found: dict[str, str] = {}
    for role, (accuracy, classes, scopes) in SCORERS.items():
        weak = _unreliable(jobs, f"provenance.{accuracy}", f"provenance.{classes}")
        if not weak:
            continue
        metrics = [
            name
            for name in comparable_metrics()
            if name in jobs and set(metric(name).scope) & set(scopes) and name not in found
        ]
        if metrics:
            why = _sentence(role, metrics, weak)
            found.update(dict.fromkeys(metrics, why))
    return found


def _unreliable(jobs: pd.DataFrame, accuracy: str, classes: str) -> dict[str, Reliability]:
    """Per dataset, the unreliable judgement of the jobs' recorded backbone (the worst)."""
    if accuracy not in jobs or classes not in jobs:
        return {}
    datasets = jobs.get("provenance.dataset", pd.Series("?", index=jobs.index))
    weak: dict[str, Reliability] = {}
    for dataset, acc, count in zip(datasets, jobs[accuracy], jobs[classes], strict=True):
        judged = judge(acc, count)
        if judged is None or judged.reliable:
            continue
        shown = str(dataset) if pd.notna(dataset) else "?"
        if shown not in weak or judged.skill < weak[shown].skill:
            weak[shown] = judged
    return weak


def _sentence(role: str, metrics: list[str], weak: dict[str, Reliability]) -> str:
    labels = ", ".join(metric_label(name) for name in metrics)
    where = "; ".join(f"dataset '{d}': {judged.describe()}" for d, judged in sorted(weak.items()))
    verb, them = ("is", "it is") if len(metrics) == 1 else ("are", "they are")
    return (
        f"{labels} {verb} {UNRELIABLE_MARK}: the {role} {them} scored on is near chance "
        f"({where}), so differences in {'it' if len(metrics) == 1 else 'them'} may not reflect "
        "the images (docs/metrics.md)"
    )


def headline_warnings(headline: pd.DataFrame) -> list[str]:
    """One line per unreliable backbone, for above the headline's verdict table."""
    return list(dict.fromkeys(headline.attrs.get("unreliable", {}).values()))


def marked(label: str, name: str, headline: pd.DataFrame) -> str:
    """`label` with `(UNRELIABLE)` after it where metric `name` is unreliable."""
    unreliable = name in headline.attrs.get("unreliable", {})
    return f"{label} ({UNRELIABLE_MARK})" if unreliable else label
