"""Sample figures: the slerp interpolation strip (eval.interpolation_strip)."""

from __future__ import annotations

import io
import math

import torch
from PIL import Image

from bench.expand import Job
from bench.run.job.phases import run_job
from bench.run.job.sample_figures import INTERPOLATION_ROWS, INTERPOLATION_STEPS
from bench.run.job.sampler import slerp
from bench.run.store.results import ResultsStore


def test_slerp_starts_and_ends_at_the_latents_and_follows_the_great_circle():
    start, end = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    path = slerp(start, end, torch.linspace(0, 1, 5))
    assert path.shape == (1, 5, 2)
    assert torch.allclose(path[0, 0], start[0]) and torch.allclose(path[0, -1], end[0])
    assert torch.allclose(path.norm(dim=2), torch.ones(1, 5))  # linear would dip to 0.71
    half = math.sqrt(0.5)
    assert torch.allclose(path[0, 2], torch.tensor([half, half]))


def test_slerp_of_parallel_latents_is_linear_not_nan():
    start = torch.tensor([[1.0, 2.0]])
    path = slerp(start, 3 * start, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(path[0], torch.stack([start[0], 2 * start[0], 3 * start[0]]))


def test_a_job_with_interpolation_strip_writes_interpolation_png(tiny_job, tmp_path):
    cfg = tiny_job(steps=5)
    cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"interpolation_strip": True})})
    record = run_job(Job("strip", "baseline", 0, cfg), ResultsStore(tmp_path), torch.device("cpu"))
    strip = Image.open(
        io.BytesIO((tmp_path / "strip" / record["job_id"] / "interpolation.png").read_bytes())
    )
    assert strip.size == (INTERPOLATION_STEPS * 9 + 1, INTERPOLATION_ROWS * 9 + 1)  # 8 px + 1 pad
    plain = run_job(
        Job("plain", "baseline", 0, tiny_job(steps=5)), ResultsStore(tmp_path), torch.device("cpu")
    )
    assert not (tmp_path / "plain" / plain["job_id"] / "interpolation.png").exists()
