"""What each metric is, in one place (in the spirit of stylegan2-ada's `metric_main.py`).

Every value a job can record under `metrics` has one entry: its name, how people write it,
which way is better, its unit, the torch-fidelity result key (if torch-fidelity computes it),
whether `bench tune` may optimise it and `bench regress` tracks it, what computes it, and the
default equivalence margin (the smallest difference that matters; docs/statistics.md says
why each value, and why most metrics have none).
Reports, regression checks, tuning and the suite schema all read this table; adding a metric
is one entry here (plus its computing function and a test). See docs/metrics.md.

This module is light on purpose (the suite schema imports it): computing functions are named
as `"module:function"` and imported on use (`compute_function`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bench.errors import MetricsError

HIGHER, LOWER, NOT_COMPARED = 1, -1, 0
IMAGE, TOY2D, STACKED, LABELS = "image", "toy2d", "stacked", "labels"
FIDELITY = "bench.metrics.fidelity:fidelity_metrics"
DENSITY_COVERAGE = "bench.metrics.density_coverage:density_coverage"
# What computes the metrics of a scope other than `image` (all of them at once).
SCORERS = {
    TOY2D: "bench.metrics.modes:mode_metrics",
    STACKED: "bench.metrics.classes:stacked_mode_metrics",
    LABELS: "bench.metrics.classes:class_metrics",
}


@dataclass(frozen=True)
class Metric:
    """One recorded value.

    `scope`: where it is scored: `image` (when its `request` is in `eval.metrics`), `toy2d`
    (2-D mixtures), `stacked` (stacked MNIST), `labels` (other labelled image data).
    `direction`: +1 higher is better, -1 lower is better, 0 not compared (a spread, a count).
    `compute`: `"module:function"`; None for other scopes, whose `SCORERS` compute them. For
    image metrics without a `fidelity_key` it is called once per request as
    `function(generated, reference) -> {name: value}` on the backbone's features of the
    generated and the reference images (the layer precision/recall use).
    `margin`: the default equivalence margin in the metric's units (`[suite] margin`
    overrides it); None where no value fits every backbone and dataset.
    """

    name: str
    label: str
    direction: int
    unit: str
    scope: tuple[str, ...]
    compute: str | None
    request: str | None = None
    fidelity_key: str | None = None
    tunable: bool = False
    regressed: bool = False
    citation: str = ""
    margin: float | None = None

    @property
    def comparable(self) -> bool:
        return self.direction != NOT_COMPARED

    @property
    def better(self) -> str:
        """`lower is better` or `higher is better`, for titles and captions."""
        return "lower is better" if self.direction < 0 else "higher is better"


ON_IMAGES, ON_TOYS, ON_STACKED, ON_LABELS = (IMAGE,), (TOY2D,), (STACKED,), (LABELS,)
ON_MODES = (TOY2D, STACKED)
MODE_KL_CITATION = "Srivastava et al. 2017; Lin et al. 2018"  # VEEGAN's and PacGAN's KL
# Default margins, justified in docs/statistics.md ("Margins"): FID as far apart as two real
# samples of 8x8 digits are on the domain backbone; fractions of samples 2 points.
FID_MARGIN, FRACTION_MARGIN = 1.0, 0.02

# fmt: off
METRICS: tuple[Metric, ...] = (
    Metric("fid", "FID", LOWER, "FID", ON_IMAGES, FIDELITY, "fid", "frechet_inception_distance",
           tunable=True, regressed=True, citation="Heusel et al. 2017", margin=FID_MARGIN),
    Metric("isc", "IS", HIGHER, "IS", ON_IMAGES, FIDELITY, "isc", "inception_score_mean",
           citation="Salimans et al. 2016"),
    Metric("kid", "KID", LOWER, "KID", ON_IMAGES, FIDELITY, "kid", "kernel_inception_distance_mean",
           tunable=True, citation="Binkowski et al. 2018"),
    Metric("precision", "precision", HIGHER, "fraction", ON_IMAGES, FIDELITY, "prc", "precision",
           citation="Kynkaanniemi et al. 2019", margin=FRACTION_MARGIN),
    Metric("recall", "recall", HIGHER, "fraction", ON_IMAGES, FIDELITY, "prc", "recall",
           citation="Kynkaanniemi et al. 2019", margin=FRACTION_MARGIN),
    Metric("modes_covered", "modes covered", HIGHER, "modes", ON_MODES, None,
           citation="Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018"),
    Metric("high_quality_fraction", "high quality fraction", HIGHER, "fraction", ON_TOYS, None,
           citation="Srivastava et al. 2017", margin=FRACTION_MARGIN),
    Metric("kl_to_uniform", "kl to uniform", LOWER, "nats", ON_STACKED, None,
           citation=MODE_KL_CITATION),
    Metric("mode_kl", "mode kl", LOWER, "nats", ON_TOYS, None, citation=MODE_KL_CITATION),
    Metric("class_coverage", "class coverage", HIGHER, "fraction", ON_LABELS, None),
    Metric("class_kl_to_real", "class kl to real", LOWER, "nats", ON_LABELS, None),
    Metric("density", "density", HIGHER, "ratio", ON_IMAGES, DENSITY_COVERAGE, "density_coverage",
           citation="Naeem et al. 2020"),
    Metric("coverage", "coverage", HIGHER, "fraction", ON_IMAGES, DENSITY_COVERAGE,
           "density_coverage", citation="Naeem et al. 2020", margin=FRACTION_MARGIN),
    # Spreads and counts, recorded beside the values above and never compared.
    Metric("isc_std", "IS std", NOT_COMPARED, "IS", ON_IMAGES, FIDELITY, "isc",
           "inception_score_std"),
    Metric("kid_std", "KID std", NOT_COMPARED, "KID", ON_IMAGES, FIDELITY, "kid",
           "kernel_inception_distance_std"),
    Metric("modes_total", "modes total", NOT_COMPARED, "modes", ON_MODES, None),
)
# fmt: on
_BY_NAME = {m.name: m for m in METRICS}


def metric(name: str) -> Metric:
    """The entry of `name`; an error naming the known metrics otherwise."""
    if name not in _BY_NAME:
        raise MetricsError(f"unknown metric '{name}'; known: {', '.join(metric_names())}")
    return _BY_NAME[name]


def metric_names() -> list[str]:
    """Every value a job can record under `metrics`."""
    return list(_BY_NAME)


def comparable_metrics() -> list[str]:
    """The metrics with a direction, in the order reports list them."""
    return [m.name for m in METRICS if m.comparable]


def default_margins() -> dict[str, float]:
    """The comparable metrics' default equivalence margins, where they have one."""
    return {m.name: m.margin for m in METRICS if m.comparable and m.margin is not None}


def margins(declared: dict[str, float] | None = None) -> dict[str, float]:
    """The equivalence margin of each metric that has one: a suite's `declared` margins
    (`[suite] margin`), else the registry's defaults."""
    return {**default_margins(), **(declared or {})}


def tunable_metrics() -> list[str]:
    """What `tune.metric` may name (`bench tune` minimises it)."""
    return [m.name for m in METRICS if m.tunable]


def regressed_metrics() -> list[str]:
    """The metrics `bench regress` checks against a baseline."""
    return [m.name for m in METRICS if m.regressed]


def eval_requests() -> list[str]:
    """What `eval.metrics` may name: each computes one or more image metrics."""
    return list(dict.fromkeys(m.request for m in METRICS if m.request is not None))


def requested(requests: Iterable[str]) -> list[Metric]:
    """The image metrics `eval.metrics = requests` computes, in the order of `requests`."""
    return [m for r in requests for m in METRICS if m.request == r]


def scored_in(scope: str) -> list[Metric]:
    """The metrics scored for `scope` (`toy2d`, `stacked`, `labels`) whatever `eval.metrics`."""
    return [m for m in METRICS if scope in m.scope]


def compute_function(path: str) -> Callable[..., dict[str, float]]:
    """The function `path` (`"module:function"`, a `Metric.compute` or a `SCORERS` value) names,
    imported now."""
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)
