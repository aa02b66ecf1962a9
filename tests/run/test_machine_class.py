"""The machine class (CPU model, instruction-set dispatch, math libraries, GPU) is recorded in
every job, is not part of its identity, and `bench rerun` on another class does not call a
difference a failure."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from bench.cli import main
from bench.machine import cpu_description, machine, machine_class
from bench.provenance import code_fingerprint, fingerprint

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_vnni hypervisor

processor\t: 1
model name\t: another core, never read
"""
GRAVITON = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes sve sve2 bf16 i8mm
CPU implementer\t: 0x41
CPU part\t: 0xd4f
"""


def test_the_cpu_model_and_kernel_flags_are_read_from_cpuinfo() -> None:
    assert cpu_description(XEON) == (
        "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
        "sse4_2 avx avx2 fma avx512f avx512_vnni",
    )
    assert cpu_description(GRAVITON) == (
        "ARM implementer 0x41 part 0xd4f",
        "asimd bf16 i8mm sve sve2",
    )
    assert cpu_description("") == (platform.processor() or "unknown", "")


def test_the_fingerprint_records_the_machine_class_outside_the_code_id() -> None:
    found = fingerprint(torch.device("cpu"))
    assert found["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert found["cpu_model"] and found["gpu_model"] == "none"
    assert found["math_libraries"] != "unknown"  # torch's MKL / oneDNN, numpy's BLAS
    assert found["machine_class"].startswith(found["cpu_model"])
    assert found["cpu_capability"] in found["machine_class"]
    assert found["code_id"] == code_fingerprint()["code_id"]  # unchanged by the machine
    assert machine(torch.device("cpu"))["machine_class"] == found["machine_class"]


def test_records_without_a_machine_class_read_as_unrecorded() -> None:
    assert machine_class({}) == "unrecorded"
    assert machine_class({"fingerprint": {"code_id": "c", "device_class": "cpu (x86_64)"}}) == (
        "unrecorded"
    )
    assert machine_class({"fingerprint": {"machine_class": "A"}}) == "A"


def rerun(job: Path, into: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["rerun", str(job), "--into", str(into), "--device", "cpu"])
    return code, capsys.readouterr().out


def edit_result(job: Path, **fingerprint: str | None) -> None:
    """The original's result.json with another FID and `fingerprint` changes (None: drop)."""
    path = job / "result.json"
    record = json.loads(path.read_text())
    record["metrics"]["fid"] += 1.0
    for key, value in fingerprint.items():
        if value is None:
            record["fingerprint"].pop(key)
        else:
            record["fingerprint"][key] = value
    path.write_text(json.dumps(record))


def test_a_rerun_on_another_machine_class_says_bit_equality_is_not_expected(
    capsys, finished_run, tmp_path: Path
) -> None:
    results = finished_run.copy(tmp_path / "results")
    job = finished_run.trick_job(results)
    here = json.loads((job / "result.json").read_text())["fingerprint"]["machine_class"]
    assert here and here == machine(torch.device("cpu"))["machine_class"]

    edit_result(job)  # same class, other numbers: a failure
    code, out = rerun(job, tmp_path / "same", capsys)
    assert code == 1 and "differ from the original on the same machine class" in out

    edit_result(job, machine_class="AMD EPYC 7B13 (x86_64), torch AVX2")
    code, out = rerun(job, tmp_path / "other", capsys)
    assert code == 0, out
    assert "'AMD EPYC 7B13 (x86_64), torch AVX2'" in out and f"'{here}'" in out
    assert "bit equality is not expected" in out and "fid" in out

    edit_result(job, machine_class=None)  # written before machine classes were recorded
    code, out = rerun(job, tmp_path / "old", capsys)
    assert code == 0 and "did not record its machine class" in out
    assert "bit equality is not expected" in out
