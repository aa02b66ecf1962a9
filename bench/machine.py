"""The machine class a job ran on: which kernels computed its numbers.

GAN training amplifies the last bit of a kernel's arithmetic: the same code, seed and library
versions give other per-seed numbers on a CPU whose instruction set makes torch (or OpenBLAS,
or MKL) dispatch to other kernels. `device_class` ("cpu (x86_64)") cannot tell two such
machines apart, so every job's fingerprint also records:

- `cpu_model`: the CPU's model name (`/proc/cpuinfo`: its model name, or an ARM core's
  implementer and part number; else `platform.processor()`);
- `cpu_capability`: the instruction set torch's CPU kernels dispatch to
  (`torch.backends.cpu.get_cpu_capability()`: DEFAULT, AVX2, AVX512, ...);
- `cpu_flags`: the instruction-set extensions present that kernels dispatch on (AVX2, FMA,
  AVX-512, AMX, NEON/SVE), space-separated;
- `math_libraries`: the math libraries and their versions: torch's MKL and oneDNN
  (`torch.__config__.show()`), and the BLAS and OpenMP libraries loaded in the process with
  the kernels they chose (`threadpoolctl`, e.g. `openblas 0.3.27 (SkylakeX)`);
- `gpu_model`: the GPU model and compute capability on CUDA (cuDNN version beside), else `none`;
- `machine_class`: what the above decide, as one string: on CPU the model, the architecture,
  torch's kernels and OpenBLAS's (`Intel(R) Xeon(R) Processor (x86_64), torch AVX512,
  OpenBLAS SkylakeX`); on CUDA the GPU and its cuDNN, then the host's.

Two runs of one job on the same class and code give identical numbers (`bench rerun`); on
two classes they need not. The machine class is provenance, not identity: it is not part of
a job's id nor of the `code_id` that decides what is pooled. Reports flag a comparison whose
paired seeds ran on different classes, and `bench rerun` on another class says bit equality
is not expected there. Records written before these fields existed read as `unrecorded`.
"""

from __future__ import annotations

import platform
import re
from functools import cache
from pathlib import Path
from typing import Any

import torch

UNRECORDED = "unrecorded"
CPUINFO = Path("/proc/cpuinfo")
KERNEL_FLAGS = (
    *("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl"),
    *("avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16"),
    *("amx_int8", "asimd", "asimdhp", "bf16", "i8mm", "sve", "sve2"),
)
MACHINE_KEYS = (
    "cpu_model", "cpu_capability", "cpu_flags", "math_libraries", "gpu_model", "machine_class",
)  # fmt: skip
TORCH_LIBRARIES = {  # torch.__config__.show() line -> the library's name
    r"Math Kernel Library Version ([\d.]+)": "mkl",
    r"(?:MKL-DNN|oneDNN) (v\S+)": "onednn",
}


def _cpuinfo(text: str) -> dict[str, str]:
    """The first processor's `key: value` lines of a `/proc/cpuinfo` text."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if found:
                break
            continue
        key, _, value = line.partition(":")
        found.setdefault(key.strip().lower(), value.strip())
    return found


def cpu_description(cpuinfo: str | None = None) -> tuple[str, str]:
    """(CPU model name, the kernel-relevant instruction-set flags present, space-separated)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    info = _cpuinfo(cpuinfo)
    model = info.get("model name") or info.get("cpu model")
    if not model and "cpu part" in info:  # ARM: implementer and part number
        model = f"ARM implementer {info.get('cpu implementer', '?')} part {info['cpu part']}"
    model = model or platform.processor()
    flags = set((info.get("flags") or info.get("features") or "").split())
    return model or "unknown", " ".join(f for f in KERNEL_FLAGS if f in flags)


def math_libraries() -> str:
    """`mkl 2024.2, onednn v3.5.3, openblas 0.3.27 (SkylakeX), openmp`: the math libraries
    torch was built with and the BLAS / OpenMP libraries loaded in this process."""
    config = torch.__config__.show()
    found = []
    for pattern, name in TORCH_LIBRARIES.items():
        match = re.search(pattern, config)
        if match:
            found.append(f"{name} {match.group(1)}")
    try:
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
    except Exception:  # threadpoolctl inspects native libraries; never fail a job over it
        pools = []
    for pool in pools:
        text = " ".join(str(p) for p in (pool.get("internal_api"), pool.get("version")) if p)
        if pool.get("architecture"):
            text += f" ({pool['architecture']})"
        if text and text not in found:
            found.append(text)
    return ", ".join(found) or "unknown"


def blas_kernels(libraries: str) -> str | None:
    """OpenBLAS's kernel choice (`SkylakeX`) in a `math_libraries` text, if it names one."""
    match = re.search(r"openblas \S+ \(([^)]+)\)", libraries)
    return match.group(1) if match else None


@cache
def host_machine() -> dict[str, str]:
    """This process's CPU side of the machine (see the module docstring); cached."""
    model, flags = cpu_description()
    capability = torch.backends.cpu.get_cpu_capability()
    libraries = math_libraries()
    cpu_class = f"{model} ({platform.machine()}), torch {capability}"
    if blas_kernels(libraries):
        cpu_class += f", OpenBLAS {blas_kernels(libraries)}"
    return {
        "cpu_model": model,
        "cpu_capability": capability,
        "cpu_flags": flags,
        "math_libraries": libraries,
        "gpu_model": "none",
        "machine_class": cpu_class,
    }


def gpu_model(device: torch.device) -> str:
    """`NVIDIA H100 80GB HBM3 (sm_90), cuDNN 90100`: the GPU and the cuDNN its kernels use."""
    major, minor = torch.cuda.get_device_capability(device)
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    text = f"{torch.cuda.get_device_name(device)} (sm_{major}{minor})"
    return text + (f", cuDNN {cudnn}" if cudnn else "")


def machine(device: torch.device) -> dict[str, str]:
    """The machine fields of a job's fingerprint on `device` (see the module docstring)."""
    host = host_machine()
    if device.type != "cuda":
        return dict(host)
    gpu = gpu_model(device)
    return host | {"gpu_model": gpu, "machine_class": f"{gpu}; host {host['machine_class']}"}


def machine_class(record: dict[str, Any]) -> str:
    """The machine class a result record names, or `unrecorded` (written before it was)."""
    fingerprint = record.get("fingerprint")
    found = fingerprint.get("machine_class") if isinstance(fingerprint, dict) else None
    return found if isinstance(found, str) and found else UNRECORDED
