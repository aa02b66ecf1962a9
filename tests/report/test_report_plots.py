import matplotlib.pyplot as plt
import pytest

from bench.report import load_histories, load_results, plots
from bench.report.verdicts import interactions

PNG = b"\x89PNG\r\n\x1a\n"
COLLAPSE = {"step": 50, "detector": "d_loss_collapse", "detail": "D loss collapsed"}


@pytest.fixture
def suite(results):
    results.suite("labels")
    for variant, fid in {"baseline": 50, "smoothing": 45}.items():
        for seed in range(3):
            results.job("labels", variant, seed, {"fid": fid + seed}, history_fid=True)
    results.job("labels", "smoothing", 3, status="diverged", diverged_at=50, events=[COLLAPSE])
    jobs = load_results(results.root)
    return jobs, load_histories(jobs)


def test_every_figure_is_png_and_leaves_no_pyplot_state(suite) -> None:
    jobs, history = suite
    figures = [
        plots.metric_strip(jobs, "fid"),
        plots.loss_curves(history, jobs),
        plots.grad_norm_curves(history, jobs),
        plots.metric_curves(history, jobs, "fid"),
        plots.failure_counts(jobs),
        plots.cost_plot(jobs),
    ]
    assert all(png is not None and png.startswith(PNG) for png in figures)
    assert plt.get_fignums() == []


def test_nothing_to_draw_gives_none(suite) -> None:
    jobs, history = suite
    assert plots.metric_strip(jobs, "kid") is None
    assert plots.metric_curves(history, jobs, "kid") is None
    calm = jobs[jobs["status"] == "ok"]
    assert plots.failure_counts(calm) is None
    assert plots.interaction_heatmap(interactions(calm), "fid") is None


def test_variant_order_puts_the_reference_first(suite) -> None:
    jobs, _ = suite
    flipped = jobs.assign(reference_variant="smoothing")
    assert plots.variant_order(flipped) == ["smoothing", "baseline"]
