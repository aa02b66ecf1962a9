"""On a CUDA device only (skipped elsewhere; run by benchmarks/gpu/check.sh): captured
training is real, reproducible, statistically the same as eager training, and a packed job
gives the numbers of the same job run alone.

Tolerances: packed vs alone runs the same graphs with the same seeded RNGs and deterministic
cuDNN, so their history rows agree to `PACKED_RTOL`; captured vs eager draw different (but
equally seeded) noise, so they are compared over `SEEDS` seeds: the mean D and G losses of
the last log interval differ by less than `SIGMAS` standard errors.
"""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from bench.config import DataConfig, JobConfig, ModelConfig, TrainConfig
from bench.data import load_dataset
from bench.run.packed import RoundRobin
from bench.train.capture import GRAPH
from bench.train.loop import gradient_norm, train, training
from bench.tricks.registry import all_tricks, build_tricks

pytestmark = pytest.mark.gpu
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device", allow_module_level=True)

CUDA = torch.device("cuda")
PACKED_RTOL = 1e-4
SEEDS = (0, 1, 2, 3, 4, 5)
SIGMAS = 4.0


def job(steps: int = 200, **tricks) -> JobConfig:
    return JobConfig(
        data=DataConfig(name="digits", image_size=32),
        model=ModelConfig(latent_dim=64, g_width=32, d_width=32),
        train=TrainConfig(steps=steps, batch_size=64, log_every=50),
        tricks=tricks,
    )


@pytest.fixture(scope="module")
def data() -> torch.Tensor:
    return load_dataset(job().data).train.to(CUDA)


@pytest.fixture
def deterministic():
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic = False


def test_adam_is_capturable_and_gradient_norm_stays_on_the_device(data) -> None:
    net = torch.nn.Linear(3, 1).to(CUDA)
    assert gradient_norm(net).device.type == "cuda"
    outcome = train(job(steps=10), 0, data, [], CUDA)
    assert outcome.execution["mode"] == GRAPH
    assert "7 replayed, 3 eager" in outcome.execution["reason"]


def test_captured_training_is_reproducible_and_seeded(data) -> None:
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


def test_a_packed_job_gives_the_numbers_of_the_same_job_alone(data, deterministic) -> None:
    cfgs = [job(100), job(100, one_sided_label_smoothing={}), job(100), job(100)]
    alone = train(cfgs[0], 7, data, [], CUDA)
    streams = [torch.cuda.Stream() for _ in cfgs]
    outcomes: dict[int, object] = {}
    queue = iter(range(len(cfgs)))

    def start(index: int, slot: int):
        capabilities = load_dataset(cfgs[index].data).capabilities
        fresh = build_tricks(cfgs[index].tricks, "test", capabilities)
        return training(cfgs[index], 7 if index == 0 else index, data, fresh, CUDA)

    RoundRobin(
        len(cfgs),
        lambda: next(queue, None),
        start,
        lambda index, outcome, error: outcomes.update({index: outcome or error}),
        lambda slot: torch.cuda.stream(streams[slot]),
    ).run()
    packed = outcomes[0]
    assert packed.execution["mode"] == GRAPH
    for a, b in zip(alone.history, packed.history, strict=True):
        for key, value in a.items():
            assert b[key] == pytest.approx(value, rel=PACKED_RTOL, abs=1e-6), key


@pytest.mark.parametrize("name", sorted(n for n, c in all_tricks().items() if c.capturable))
def test_every_capturable_trick_captures_and_trains(data, name: str) -> None:
    cfg = job(12, **{name: {}})
    dataset = load_dataset(cfg.data)
    tricks = build_tricks(cfg.tricks, "test", dataset.capabilities)
    labels = None if dataset.train_labels is None else dataset.train_labels.to(CUDA)
    outcome = train(cfg, 0, data, tricks, CUDA, labels=labels, num_classes=dataset.num_classes)
    assert outcome.execution["mode"] == GRAPH, outcome.execution
    assert outcome.status in {"ok", "diverged"}
