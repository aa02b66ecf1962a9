"""Every `bench run` job on a GPU trains with deterministic kernels, so one seed gives one
history there too (`bench rerun` bit for bit); the settings are process-wide, so they are
checked here on CPU, where torch accepts them without a device."""

from __future__ import annotations

import os

import pytest
import torch

from bench.expand import Job
from bench.run.job import phases
from bench.run.job.device import CUBLAS_WORKSPACE, deterministic_kernels
from bench.run.store.results import ResultsStore

CUDA = torch.device("cuda")


@pytest.fixture
def restored(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    yield
    deterministic_kernels(CUDA, on=False)


def kernel_settings() -> tuple:
    return (
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.utils.deterministic.fill_uninitialized_memory,
    )


def test_a_cuda_device_gets_deterministic_kernels_and_off_restores_torchs_defaults(
    restored,
) -> None:
    defaults = kernel_settings()
    deterministic_kernels(CUDA)
    # cuDNN's deterministic algorithms, torch's deterministic ops (warning where a CUDA op has
    # none), no NaN-filled fresh tensors, a fixed cuBLAS workspace
    assert kernel_settings() == (True, False, True, True, False)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
    deterministic_kernels(CUDA, on=False)
    assert kernel_settings() == defaults


def test_the_cpu_is_left_as_it_is(restored) -> None:
    before = kernel_settings()
    deterministic_kernels(torch.device("cpu"))
    assert kernel_settings() == before


def test_loading_a_job_sets_its_devices_kernels(monkeypatch, tmp_path, tiny_job) -> None:
    """`load` (every executor's road to training, the memory probe's too) asks for them."""
    asked = []
    monkeypatch.setattr(phases, "deterministic_kernels", asked.append)
    run = phases.JobRun(ResultsStore(tmp_path), torch.device("cpu"))
    phases.load(Job("kernels", "baseline", 0, tiny_job(steps=2)), run)
    assert asked == [torch.device("cpu")]
