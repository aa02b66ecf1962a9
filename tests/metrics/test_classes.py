from __future__ import annotations

import math

import pytest
import torch

from bench.metrics.classes import class_metrics, kl_divergence, stacked_mode_metrics


def test_every_mode_equally_often_covers_all_1000_with_zero_kl():
    scores = stacked_mode_metrics(torch.arange(3000) % 1000, 1000)
    assert scores == {"modes_covered": 1000.0, "modes_total": 1000.0, "kl_to_uniform": 0.0}


def test_a_single_mode_covers_one_with_kl_log_1000():
    scores = stacked_mode_metrics(torch.full((500,), 123), 1000)
    assert scores["modes_covered"] == 1
    assert scores["kl_to_uniform"] == pytest.approx(math.log(1000))


def test_class_coverage_and_kl_to_the_real_class_histogram():
    real = torch.arange(100) % 10
    assert class_metrics(real.flip(0), real, 10) == {"class_coverage": 1.0, "class_kl_to_real": 0.0}
    one_class = class_metrics(torch.zeros(50, dtype=torch.int64), real, 10)
    assert one_class["class_coverage"] == 0.1
    assert one_class["class_kl_to_real"] == pytest.approx(math.log(10))


def test_kl_is_infinite_where_the_reference_lacks_a_generated_class():
    p = torch.tensor([0.5, 0.5], dtype=torch.float64)
    assert kl_divergence(p, torch.tensor([1.0, 0.0], dtype=torch.float64)) == math.inf
