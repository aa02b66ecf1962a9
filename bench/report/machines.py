"""Seeds whose reference and variant ran on different machine classes: a weaker pairing.

A paired comparison takes, seed by seed, variant minus reference: both start from the same
random stream, so the seed's own luck cancels. That holds when both ran the same kernels. On
two machine classes (`bench.machine`: another CPU model, instruction-set dispatch or GPU) the
same seed follows another path from the first differing bit on, so the seed's difference
also carries the machines' difference. Such pairs are kept (the tests stay valid, only less
sharp), but never silently: the comparison names the seeds and the classes. A job recorded
before machine classes were (`unrecorded`) is of an unknown class: paired with a recorded
one it is flagged; two unrecorded sides are not (nothing is known either way, and the
selection's device check still applies). The torch thread count counts as part of the class
(another split of each reduction: other last bits on the same machine).
"""

from __future__ import annotations

import pandas as pd

from bench.machine import UNRECORDED

COLUMN = "fingerprint.machine_class"
THREADS = "threads"  # torch threads per worker (`bench.run.executors.threads`)


def _classes(jobs: pd.DataFrame) -> pd.Series:
    """Each job's machine class, and its torch threads where recorded: a CPU's reductions are
    split by thread, so one machine gives other numbers at another thread count (measured:
    the main job's baseline seed 0, FID 17.966811 with 2 threads, 17.975187 with 1)."""
    if COLUMN not in jobs:
        classes = pd.Series(UNRECORDED, index=jobs.index)
    else:
        classes = jobs[COLUMN].where(jobs[COLUMN].notna() & (jobs[COLUMN] != ""), UNRECORDED)
    if THREADS in jobs:
        threads = pd.to_numeric(jobs[THREADS], errors="coerce")
        suffix = threads.map(lambda n: f", {n:g} threads" if pd.notna(n) else "")
        classes = classes.astype(str) + suffix
    return classes


def split_seeds(jobs: pd.DataFrame, reference: str) -> dict[str, dict[int, tuple[str, str]]]:
    """Per variant, the seeds it shares with `reference` whose two jobs ran on different
    machine classes: seed -> (reference's class, variant's class)."""
    classes = jobs.assign(_class=_classes(jobs))
    per_seed = {
        variant: dict(zip(group["seed"], group["_class"], strict=True))
        for variant, group in classes.groupby("variant")
        if group["seed"].is_unique
    }
    ref = per_seed.get(reference, {})
    split: dict[str, dict[int, tuple[str, str]]] = {}
    for variant, seeds in per_seed.items():
        if variant == reference:
            continue
        found = {  # two different classes: never both unrecorded
            int(seed): (ref[seed], mine)
            for seed, mine in sorted(seeds.items())
            if seed in ref and ref[seed] != mine
        }
        if found:
            split[variant] = found
    return split


def split_text(seeds: dict[int, tuple[str, str]]) -> str:
    """`seeds 0, 2 ran on different machine classes (reference on 'A', variant on 'B'):
    their pairing is weaker ...`, for a comparison's reason."""
    if not seeds:
        return ""
    pairs = sorted(set(seeds.values()))
    where = "; ".join(f"reference on '{ref}', variant on '{mine}'" for ref, mine in pairs)
    plural = "s" if len(seeds) > 1 else ""
    return (
        f"seed{plural} {', '.join(map(str, seeds))} of this comparison ran on different machine "
        f"classes ({where}): bit-level differences of the kernels grow over training, so those "
        "pairs carry the machines' difference too and the pairing is weaker; rerun them on one "
        "class to compare like with like"
    )


def machine_split(jobs: pd.DataFrame, reference: str, variants: pd.Series) -> list[str]:
    """For each of `variants` (a headline's column), `split_text` of its split seeds, or ''."""
    split = split_seeds(jobs, reference)
    return [split_text(split.get(variant, {})) for variant in variants]
