"""The torch device a job trains on: chosen from `--device`, with deterministic kernels."""

from __future__ import annotations

import os

import torch

from bench.errors import ConfigError

# cuBLAS keeps a fixed workspace per stream only with this set before its first handle
# (PyTorch, "Reproducibility"); 8 buffers of 4 MiB.
CUBLAS_WORKSPACE = ":4096:8"


def resolve_device(name: str) -> torch.device:
    """`auto` -> CUDA when available, else CPU; `cuda` on a machine without one is refused."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA device is available here; use --device cpu")
    return device


def deterministic_kernels(device: torch.device, on: bool = True) -> None:
    """Make this process's CUDA kernels deterministic (`on=False` undoes it); nothing on CPU,
    whose kernels already are for a fixed thread count.

    Without it one seed does not give one history on a GPU: cuDNN chooses convolution
    algorithms per call and some accumulate with atomics, and a GAN amplifies the last bits
    (on an H200, two captured runs of one seed differed in D's loss at the 4th digit by step
    50). With it `bench rerun` reproduces a GPU job bit for bit on its machine class. Ops with
    no deterministic CUDA kernel warn instead of failing; uninitialised memory is not filled,
    so nothing reads differently than before.
    """
    if device.type != "cuda":
        return
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.backends.cudnn.deterministic = on
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(on, warn_only=on)
    torch.utils.deterministic.fill_uninitialized_memory = not on
