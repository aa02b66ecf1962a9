"""On a CUDA device only (skipped elsewhere; run by benchmarks/gpu/check.sh): captured
training is real, reproducible bit for bit with the deterministic kernels jobs train with,
the same as eager training, and a packed job gives the numbers of the same job run alone,
next to cuBLAS-heavy neighbours whose graphs are freed while it replays.

Tolerances: the same seed draws the same numbers captured and eager (a graph advances the
registered generators' offsets as the eager kernels would), and packed or alone runs the
same deterministic kernels, so history rows agree to `RTOL` (float reordering
only; a draw from an unregistered generator, or a value baked in at capture, is off by far
more). Over `SEEDS` seeds, the mean losses of the last log interval captured and eager also
differ by less than `SIGMAS` standard errors (the weaker check, should the exact one fail).
"""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from bench.config import DataConfig, JobConfig, ModelConfig, TrainConfig
from bench.data import load_dataset
from bench.run.executors.round_robin import RoundRobin
from bench.run.job.device import deterministic_kernels
from bench.train.capture import GRAPH
from bench.train.loop import gradient_norm, run_to_end, train, training
from bench.tricks.registry import all_tricks, build_tricks, resolve_tricks

pytestmark = pytest.mark.gpu
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device", allow_module_level=True)

CUDA = torch.device("cuda")
RTOL = 1e-4
SEEDS = (0, 1, 2, 3, 4, 5)
SIGMAS = 4.0


def job(steps: int = 200, arch: str = "dcgan", **tricks) -> JobConfig:
    data = DataConfig(name="ring8") if arch == "mlp" else DataConfig(name="digits", image_size=32)
    return JobConfig(
        data=data,
        model=ModelConfig(arch=arch, latent_dim=64, g_width=32, d_width=32),
        train=TrainConfig(steps=steps, batch_size=64, log_every=50),
        tricks=tricks,
    )


def same_history(first: list[dict], second: list[dict]) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        for key, value in a.items():
            assert b[key] == pytest.approx(value, rel=RTOL, abs=1e-6), key


def stepwise(cfg: JobConfig, seed: int, capture: bool = True):
    """`training` of `cfg` with fresh tricks, on its own data."""
    dataset = load_dataset(cfg.data)
    tricks = build_tricks(resolve_tricks(cfg.tricks, "test", dataset.capabilities))
    labels = None if dataset.train_labels is None else dataset.train_labels.to(CUDA)
    return training(
        cfg, seed, dataset.train.to(CUDA), tricks, CUDA, labels=labels,
        num_classes=dataset.num_classes, capture=capture,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data() -> torch.Tensor:
    return load_dataset(job().data).train.to(CUDA)


@pytest.fixture
def deterministic():
    """The kernels every `bench run` job trains with (`bench.run.job.phases.load`)."""
    deterministic_kernels(CUDA)
    yield
    deterministic_kernels(CUDA, on=False)


def test_adam_is_capturable_and_gradient_norm_stays_on_the_device(data) -> None:
    net = torch.nn.Linear(3, 1).to(CUDA)
    assert gradient_norm(tuple(net.parameters())).device.type == "cuda"
    outcome = train(job(steps=10), 0, data, [], CUDA)
    assert outcome.execution["mode"] == GRAPH
    assert "7 replayed, 3 eager" in outcome.execution["reason"]


def test_captured_training_is_reproducible_and_seeded(data, deterministic) -> None:
    first, again, other = (train(job(100), seed, data, [], CUDA) for seed in (0, 0, 1))
    assert first.execution["mode"] == GRAPH
    assert first.history == again.history
    assert first.history != other.history


def test_captured_training_matches_eager_statistically(data) -> None:
    finals: dict[bool, dict[str, list[float]]] = {True: {}, False: {}}
    for capture in (True, False):
        for seed in SEEDS:
            row = train(job(300), seed, data, [], CUDA, capture=capture).history[-1]
            for key in ("d_loss", "g_loss", "d_real", "d_fake"):
                finals[capture].setdefault(key, []).append(row[key])
    for key, captured in finals[True].items():
        eager = finals[False][key]
        spread = math.sqrt(statistics.variance(captured) + statistics.variance(eager))
        error = spread / math.sqrt(len(SEEDS))
        gap = abs(statistics.fmean(captured) - statistics.fmean(eager))
        assert gap < SIGMAS * error + 1e-3, (key, captured, eager)


def test_packed_jobs_give_the_numbers_of_the_same_jobs_alone(deterministic) -> None:
    """DCGAN, spectral norm, minibatch discrimination (cuBLAS) and an MLP, packed on streams;
    two end early, so their graphs are freed while the others still replay
    (pytorch/pytorch#193402: graphs sharing a capture stream share its cuBLAS workspace)."""
    cfgs = [
        job(100),
        job(40, spectral_norm={}),
        job(100, minibatch_discrimination={}),
        job(40, arch="mlp"),
    ]
    seeds = [7, 1, 2, 3]
    alone = [run_to_end(stepwise(cfg, seed)) for cfg, seed in zip(cfgs, seeds, strict=True)]
    streams = [torch.cuda.Stream() for _ in cfgs]
    outcomes: dict[int, object] = {}
    queue = iter(range(len(cfgs)))
    RoundRobin(
        len(cfgs),
        lambda: next(queue, None),
        lambda index, slot: stepwise(cfgs[index], seeds[index]),
        lambda index, outcome, error: outcomes.update({index: outcome or error}),
        lambda slot: torch.cuda.stream(streams[slot]),
    ).run()
    for index, single in enumerate(alone):
        packed = outcomes[index]
        assert not isinstance(packed, BaseException), packed
        assert packed.execution["mode"] == GRAPH, packed.execution
        same_history(single.history, packed.history)


@pytest.mark.parametrize(
    "name", ["baseline", *sorted(n for n, c in all_tricks().items() if c.capturable)]
)
def test_each_capturable_trick_is_reproducible_and_the_same_captured_and_eager(
    name: str, deterministic
) -> None:
    required = [] if name == "baseline" else list(all_tricks()[name].requires)
    spec = {trick: {} for trick in [*required, name] if trick != "baseline"}
    cfg = job(12, **spec)
    captured, again = (run_to_end(stepwise(cfg, 0)) for _ in range(2))
    eager = run_to_end(stepwise(cfg, 0, capture=False))
    assert captured.execution["mode"] == GRAPH, captured.execution
    assert "replayed" in captured.execution["reason"]
    assert eager.execution["reason"] == "--no-capture"
    assert captured.history == again.history  # bit for bit: `bench rerun` on a GPU
    assert captured.status == eager.status
    same_history(eager.history, captured.history)
