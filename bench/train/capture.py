"""Graph-captured training steps: which mode a job runs in, and the replay bookkeeping.

On CUDA a small GAN's step is bound by kernel launches; recording one iteration as a CUDA graph
and replaying it launches it as one unit (docs/gpu.md has the measurements this is built
on). Replay re-runs only the recorded tensor operations, so a step may be captured only when
every enabled trick declares `capturable = True` (a promise tests/train/
test_capture_contract.py holds every such trick to on CPU).

The decision (`choose_execution`) and the bookkeeping (`ReplayScheduler`: eager warm-up
iterations, one capture, then replays) are plain Python, tested on CPU with fake capture and
replay functions. One graph per job is enough: the contract forbids a capturable trick to
change the schedule (how many D and G updates an iteration has) after the warm-up.
`CudaGraphs` is the CUDA part: warm-up, capture and replay on the job's own stream,
`torch.cuda.graph` with the job's RNG registered (`CUDAGraph.register_generator_state`) so
that each replay draws fresh seeded noise. Log points, the monitor's read-back and
evaluation run outside the graph, between replays.

A capture that raises is fatal to its process (`CaptureFailed`): torch leaves the capture
stream current and registered generators in capture state after a failed capture, so an
eager fallback in the same process would fail at its first random draw. The packed worker
exits and the job runs again, eagerly, in a fresh one (`bench.run.executors.packed_worker`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

WARMUP_ITERATIONS = 3  # eager iterations before the step is captured
EAGER, GRAPH = "eager", "graph"


@dataclass(frozen=True)
class Execution:
    """How a job's training step runs ("eager" or "graph") and why; recorded in `execution`."""

    mode: str
    reason: str

    def record(self) -> dict[str, str]:
        return {"mode": self.mode, "reason": self.reason}


def graph_support_missing() -> str | None:
    """Why this torch cannot capture a step with a seeded job RNG, or None if it can."""
    graph = getattr(torch.cuda, "CUDAGraph", None)
    if graph is None or not hasattr(graph, "register_generator_state"):
        return f"torch {torch.__version__} lacks CUDAGraph.register_generator_state"
    return None


def choose_execution(
    tricks: Sequence[Any], device: torch.device, capture: bool = True
) -> Execution:
    """Graph capture on CUDA when every enabled trick is capturable; eager otherwise, with why.

    `capture=False` is `--no-capture`. `tricks` are `Trick` instances (or anything with
    `name` and `capturable`).
    """
    if not capture:
        return Execution(EAGER, "--no-capture")
    if device.type != "cuda":
        return Execution(EAGER, "CUDA graphs need a CUDA device")
    blockers = sorted(trick.name for trick in tricks if not trick.capturable)
    if blockers:
        return Execution(EAGER, f"tricks that cannot be graph-captured: {', '.join(blockers)}")
    missing = graph_support_missing()
    if missing:
        return Execution(EAGER, missing)
    return Execution(
        GRAPH,
        f"every enabled trick is capturable; {WARMUP_ITERATIONS} eager warm-up iterations, "
        "then one captured iteration, replayed",
    )


def optimizer_options(device: torch.device) -> dict[str, bool]:
    """Keyword arguments for Adam on `device`: on CUDA its step count lives on the device
    (`capturable`) and its update is one fused kernel; on CPU the defaults."""
    if device.type != "cuda":
        return {}
    return {"capturable": True, "fused": True}


Pattern = tuple[int, int]  # an iteration's (D updates, G updates)


class CaptureFailed(RuntimeError):
    """A graph capture raised, and the process that tried it may be unusable (see the module
    docstring), or the schedule changed after the capture. `reason` is what the job's record
    says when it is rerun eagerly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReplayScheduler:
    """`warmup` eager iterations, then capture one, then replay it for every later one.

    `eager(pattern)` runs one iteration of the schedule pattern eagerly, `capture(pattern)`
    records one (and runs it: the caller replays the fresh graph once, so a capture is also a
    training step), and `replay()` replays it; each returns the iteration's statistics tensor.
    `counts` says how the iterations ran. A capture that raises (a host sync torch refuses
    while capturing, say) raises `CaptureFailed`: the job cannot go on in this process. So
    does a pattern other than the captured one: a trick that declares `capturable = True`
    and changes the schedule after the warm-up breaks the capture contract (docs/gpu.md),
    and replaying the captured graph would run the wrong number of updates.
    """

    def __init__(
        self,
        eager: Callable[[Pattern], Tensor],
        capture: Callable[[Pattern], None],
        replay: Callable[[], Tensor],
        warmup: int = WARMUP_ITERATIONS,
    ) -> None:
        self.eager, self.capture, self.replay, self.warmup = eager, capture, replay, warmup
        self.captured: Pattern | None = None
        self.counts = {EAGER: 0, GRAPH: 0}

    def run(self, pattern: Pattern) -> Tensor:
        """One training iteration of `pattern`: eager while warming up, else the graph."""
        if self.captured is None and self.counts[EAGER] < self.warmup:
            self.counts[EAGER] += 1
            return self.eager(pattern)
        if self.captured is None:
            try:
                self.capture(pattern)
            except RuntimeError as err:
                raise CaptureFailed(f"graph capture failed ({err})") from err
            self.captured = pattern
        elif pattern != self.captured:
            raise CaptureFailed(
                f"the schedule changed after the capture ({self.captured} -> {pattern} D and G "
                "updates): a trick declared capturable broke the capture contract"
            )
        self.counts[GRAPH] += 1
        return self.replay()

    def execution(self, chosen: Execution) -> Execution:
        """What actually ran: `chosen`, with the counts."""
        ran = f"{self.counts[GRAPH]} replayed, {self.counts[EAGER]} eager warm-up iterations"
        return Execution(chosen.mode, f"{chosen.reason} ({ran})")


def job_stream() -> torch.cuda.Stream:
    """The stream a job's graphs are warmed up, captured and replayed on: the current stream
    when it is a side stream (a packed slot's, `bench.run.executors.packed_worker`), else a new one.

    Never torch's shared `default_capture_stream`: graphs captured on one stream share its
    cuBLAS workspace, and freeing one job's graphs can then break another's replays
    (pytorch/pytorch#193402). Warming up on the capture stream also allocates that workspace
    outside any graph's private memory pool. `torch.cuda.Stream()` hands out streams from a
    pool of 32 per device, so a packed worker makes one stream per slot, once, and every job
    in that slot uses it (docs/gpu.md).
    """
    current = torch.cuda.current_stream()
    return current if current != torch.cuda.default_stream() else torch.cuda.Stream()


class CudaGraphs:
    """The CUDA side of `ReplayScheduler` for one job: its one graph.

    `iteration(pattern)` is the job's training iteration (`GANStep.iteration`). Warm-up,
    capture and replays all run on `stream` (`job_stream()`: lazy cuDNN, cuBLAS and allocator
    set-up happen in the warm-up, outside the capture); the graph registers `rng` (the job's
    RNG; torch registers its default CUDA generator itself) so that replays advance it. The
    statistics tensor the graph returns is static: every replay overwrites it in place.
    """

    def __init__(
        self, iteration: Callable[[Pattern], Tensor], rng: torch.Generator, stream: Any
    ) -> None:
        self.iteration, self.rng, self.stream = iteration, rng, stream
        self.graph: torch.cuda.CUDAGraph | None = None
        self.output: Tensor | None = None

    def eager(self, pattern: Pattern) -> Tensor:
        caller = torch.cuda.current_stream()
        self.stream.wait_stream(caller)
        with torch.cuda.stream(self.stream):
            stats = self.iteration(pattern)
        caller.wait_stream(self.stream)
        return stats

    def capture(self, pattern: Pattern) -> None:
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(self.rng)
        torch.cuda.synchronize()
        with torch.cuda.graph(graph, stream=self.stream):
            self.output = self.iteration(pattern)
        self.graph = graph

    def replay(self) -> Tensor:
        caller = torch.cuda.current_stream()
        self.stream.wait_stream(caller)
        with torch.cuda.stream(self.stream):
            self.graph.replay()
        caller.wait_stream(self.stream)
        return self.output
