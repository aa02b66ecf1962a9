"""Record healthy and broken runs and print each failure detector's false-alarm and hit rates.

    python benchmarks/failure_detectors.py --out tests/train/detector_traces.json
    python benchmarks/failure_detectors.py --replay tests/train/detector_traces.json

The first trains every case of `bench.run.detector_calibration.CASES` (CPU, one process) and
stores the traces (resuming: traces already in the file are kept); the second only re-judges
stored traces with today's thresholds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from bench.run.detector_calibration import CASES, rates, record
from bench.train.monitor import FAILED, WARNINGS

SEEDS = {  # cheap cases first
    "healthy_digits": range(10),
    "lr_x1000": range(8),
    "strong_d_tiny_g": range(6),
    "ring_d_steps_5": range(6),
    "healthy_ring": range(6),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--out", help="record traces into this JSON file")
    which.add_argument("--replay", help="re-judge the traces stored in this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.replay:
        traces = json.loads(Path(args.replay).read_text())
    else:
        out = Path(args.out)
        traces = json.loads(out.read_text()) if out.exists() else []
        done = {(t["case"], t["seed"]) for t in traces}
        for name, seeds in SEEDS.items():
            for seed in seeds:
                if (name, seed) in done:
                    continue
                started = time.perf_counter()
                traces.append(record(CASES[name], seed))
                print(f"{name} seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
                out.write_text(json.dumps(traces, separators=(",", ":")))
    false_alarms, hits, firing = rates(traces, [*FAILED, *WARNINGS])
    print("| detector | false alarms (healthy runs) | fires in broken runs |\n|---|---|---|")
    for name, rate in false_alarms.items():
        print(f"| `{name}` | {rate} | {firing[name]} |")
    print("\n| broken case | caught by | hits (runs that broke) |\n|---|---|---|")
    for name, rate in hits.items():
        print(f"| {name} | {', '.join(sorted(CASES[name].caught_by))} | {rate} |")


if __name__ == "__main__":
    main()
