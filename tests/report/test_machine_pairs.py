"""A comparison whose paired seeds ran on two machine classes is flagged, never pooled silently."""

from __future__ import annotations

from pathlib import Path

from bench.report import build_report, headline_text
from bench.report.table import load_results

XEON = "Intel(R) Xeon(R) Processor (x86_64), torch AVX512"
EPYC = "AMD EPYC 7B13 (x86_64), torch AVX2"


def plant(results, classes: dict[tuple[str, int], str | None]) -> None:
    """Six paired seeds of baseline and smoothing; `classes`: the machine class of some jobs
    (default XEON; None: a record written before machine classes were recorded)."""
    results.suite("s")
    for variant, shift in (("baseline", 0.0), ("smoothing", 1.0)):
        for seed in range(6):
            fingerprint = {"code_id": "same-code", "device_class": "cpu (x86_64)"}
            chosen = classes.get((variant, seed), XEON)
            if chosen is not None:
                fingerprint["machine_class"] = chosen
            fid = 20.0 + seed + shift
            results.job("s", variant, seed, {"fid": fid}, extra={"fingerprint": fingerprint})


def test_seeds_paired_across_machine_classes_are_flagged_in_the_report(
    results, tmp_path: Path
) -> None:
    plant(results, {("smoothing", 1): EPYC, ("smoothing", 3): EPYC})
    text = headline_text(results.root, fmt="md")
    assert "seeds 1, 3 of this comparison ran on different machine classes" in text
    assert f"reference on '{XEON}', variant on '{EPYC}'" in text
    assert "pairing is weaker" in text and "weaker pairing" in text  # reason and short table
    assert "ran on 2 machine classes (10 x" in text  # the suite's warning gives the counts
    page = build_report(results.root, out=tmp_path / "r.html").read_text()
    assert "seeds 1, 3 of this comparison ran on different machine classes" in page


def test_one_machine_class_adds_no_flag(results) -> None:
    plant(results, {})
    text = headline_text(results.root, fmt="md")
    assert "machine class" not in text and "weaker pairing" not in text


def test_records_without_a_machine_class_still_read_and_count_as_unknown(results) -> None:
    every_job = {(v, s): None for v in ("baseline", "smoothing") for s in range(6)}
    plant(results, every_job)  # all written before machine classes: nothing to compare
    assert "machine class" not in headline_text(results.root, fmt="md")

    mixed = {**every_job, ("baseline", 2): XEON}
    plant(results, mixed)  # one recorded beside an unrecorded one: an unknown pairing
    text = headline_text(results.root, fmt="md")
    assert "seed 2 of this comparison ran on different machine classes" in text
    assert f"reference on '{XEON}', variant on 'unrecorded'" in text
    assert len(load_results(results.root)) == 12  # read and pooled (flagged), not dropped


def test_a_seed_paired_across_thread_counts_is_flagged_like_another_machine(results) -> None:
    """One machine, another torch thread count: other last bits (the main job's baseline seed
    0 gave FID 17.966811 with 2 threads, 17.975187 with 1), so a weaker pairing too."""
    results.suite("s")
    for variant, shift in (("baseline", 0.0), ("smoothing", 1.0)):
        for seed in range(6):
            threads = 2 if (variant, seed) == ("smoothing", 4) else 1
            fingerprint = {"code_id": "same-code", "machine_class": XEON}
            extra = {"fingerprint": fingerprint, "threads": threads}
            results.job("s", variant, seed, {"fid": 20.0 + seed + shift}, extra=extra)
    text = headline_text(results.root, fmt="md")
    assert "seed 4 of this comparison ran on different machine classes" in text
    assert f"reference on '{XEON}, 1 threads', variant on '{XEON}, 2 threads'" in text
