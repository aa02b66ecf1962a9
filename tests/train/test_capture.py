"""Captured steps, on CPU: which mode a job runs in and why, and the replay bookkeeping."""

from __future__ import annotations

import pytest
import torch

from bench.data import load_dataset
from bench.train import capture
from bench.train.capture import EAGER, GRAPH, CaptureFailed, ReplayScheduler, choose_execution
from bench.train.loop import GANStep, gradient_norm, train
from bench.tricks.registry import TrainContext, all_tricks

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def tricks(*names: str):
    known = all_tricks()
    return [known[name](known[name].Params()) for name in names]


def test_cuda_jobs_are_captured_when_every_trick_allows_it() -> None:
    chosen = choose_execution(tricks("one_sided_label_smoothing", "spectral_norm"), CUDA)
    assert chosen.mode == GRAPH and "every enabled trick is capturable" in chosen.reason


@pytest.mark.parametrize(
    ("names", "device", "capture_on", "reason"),
    [
        ((), CPU, True, "CUDA graphs need a CUDA device"),
        (("spectral_norm",), CUDA, False, "--no-capture"),
        (
            ("loss_threshold_balancing", "spectral_norm", "checkpoint_swapping"),
            CUDA,
            True,
            "tricks that cannot be graph-captured: checkpoint_swapping, loss_threshold_balancing",
        ),
    ],
)
def test_eager_fallback_says_why(names, device, capture_on, reason) -> None:
    chosen = choose_execution(tricks(*names), device, capture_on)
    assert chosen.mode == EAGER and chosen.reason == reason
    assert chosen.record() == {"mode": EAGER, "reason": reason}


def test_a_torch_without_graph_rng_support_runs_eagerly(monkeypatch) -> None:
    monkeypatch.setattr(capture, "graph_support_missing", lambda: "torch 2.0 lacks it")
    assert choose_execution([], CUDA) == capture.Execution(EAGER, "torch 2.0 lacks it")


def test_adam_is_capturable_and_fused_on_cuda_only() -> None:
    assert capture.optimizer_options(CUDA) == {"capturable": True, "fused": True}
    assert capture.optimizer_options(CPU) == {}


class Recorder:
    """Fake capture/replay/eager functions that log what ran."""

    def __init__(self, fail_capture: bool = False) -> None:
        self.log: list[tuple[str, object]] = []
        self.fail_capture = fail_capture

    def eager(self, pattern):
        self.log.append(("eager", pattern))
        return torch.zeros(6)

    def capture(self, pattern):
        if self.fail_capture:
            raise RuntimeError("operation not permitted when stream is capturing")
        self.log.append(("capture", pattern))

    def replay(self):
        self.log.append(("replay",))
        return torch.ones(6)


def test_the_step_warms_up_then_is_captured_once_and_replayed() -> None:
    fake = Recorder()
    scheduler = ReplayScheduler(fake.eager, fake.capture, fake.replay, warmup=2)
    for _ in range(5):
        scheduler.run((5, 1))
    assert fake.log == [
        ("eager", (5, 1)), ("eager", (5, 1)), ("capture", (5, 1)), ("replay",), ("replay",),
        ("replay",),
    ]  # fmt: skip
    assert scheduler.counts == {EAGER: 2, GRAPH: 3}
    ran = scheduler.execution(choose_execution([], CUDA))
    assert ran.mode == GRAPH and ran.reason.endswith("(3 replayed, 2 eager warm-up iterations)")


def test_a_schedule_that_changes_after_the_capture_is_not_replayed() -> None:
    """A trick that declares itself capturable and changes the schedule breaks the contract:
    the one graph holds the captured pattern's updates, so the job must rerun eagerly."""
    fake = Recorder()
    scheduler = ReplayScheduler(fake.eager, fake.capture, fake.replay, warmup=1)
    scheduler.run((1, 1))
    scheduler.run((1, 1))
    with pytest.raises(CaptureFailed) as failed:
        scheduler.run((0, 1))
    assert failed.value.reason.startswith(
        "the schedule changed after the capture ((1, 1) -> (0, 1) D and G updates)"
    )
    assert fake.log == [("eager", (1, 1)), ("capture", (1, 1)), ("replay",)]


def test_a_failed_capture_is_fatal_to_the_process_and_says_why() -> None:
    """No eager fallback in the same process: after a failed capture torch leaves the capture
    stream current and the registered generators in capture state (docs/gpu.md)."""
    fake = Recorder(fail_capture=True)
    scheduler = ReplayScheduler(fake.eager, fake.capture, fake.replay, warmup=1)
    scheduler.run((1, 1))
    with pytest.raises(CaptureFailed) as failed:
        scheduler.run((1, 1))
    assert failed.value.reason.startswith("graph capture failed (operation not permitted")
    assert fake.log == [("eager", (1, 1))]  # nothing ran after the failed capture


class FakeStreams:
    """torch.cuda's streams as far as `job_stream` sees them: the current one, the default
    one, and how many new ones were made."""

    def __init__(self, current: str) -> None:
        self.current, self.made = current, []

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(torch.cuda, "current_stream", lambda: self.current)
        monkeypatch.setattr(torch.cuda, "default_stream", lambda: "default")
        monkeypatch.setattr(torch.cuda, "Stream", lambda: self.made.append("new") or "new")


def test_a_packed_slot_captures_on_its_own_stream_and_makes_none(monkeypatch) -> None:
    slot = FakeStreams(current="slot 3")
    slot.install(monkeypatch)
    assert capture.job_stream() == "slot 3" and slot.made == []
    alone = FakeStreams(current="default")
    alone.install(monkeypatch)
    assert capture.job_stream() == "new" and alone.made == ["new"]


def test_cpu_outcome_records_eager_execution(tiny_job) -> None:
    data = load_dataset(tiny_job().data).train
    outcome = train(tiny_job(steps=5), 0, data, [], CPU)
    assert outcome.execution == {"mode": EAGER, "reason": "CUDA graphs need a CUDA device"}
    forced = train(tiny_job(steps=5), 0, data, [], CPU, capture=False)
    assert forced.execution["reason"] == "--no-capture"
    assert forced.history == outcome.history  # eager either way on CPU: the same numbers


def test_gradient_norm_is_a_tensor_on_the_nets_device_even_without_gradients() -> None:
    net = torch.nn.Linear(3, 2)
    params = tuple(net.parameters())
    empty = gradient_norm(params)
    assert empty.shape == () and empty.device == net.weight.device and empty.item() == 0.0
    net(torch.ones(4, 3)).sum().backward()
    flat = torch.cat([p.grad.flatten() for p in params])
    assert torch.allclose(gradient_norm(params), flat.norm())
    assert torch.stack([empty, gradient_norm(params)]).shape == (2,)


def test_training_batches_land_in_the_same_buffers_every_iteration(tiny_job) -> None:
    cfg = tiny_job(steps=3)
    dataset = load_dataset(cfg.data)
    ctx = TrainContext(CPU, torch.Generator().manual_seed(0), 3, 32, 8, (1, 8, 8))
    step = GANStep(cfg, dataset.train, [], ctx)
    real, z = step.draws.real()[0], step.latent_batch(32)[0]
    first_real, first_z = real.clone(), z.clone()
    stats = step.iteration()
    again_real, again_z = step.draws.real()[0], step.latent_batch(32)[0]
    assert again_real.data_ptr() == real.data_ptr() and again_z.data_ptr() == z.data_ptr()
    assert not torch.equal(again_real, first_real) and not torch.equal(again_z, first_z)
    assert step.iteration().data_ptr() == stats.data_ptr()
    assert step.latent_batch(5)[0].shape == (5, 8)  # other sizes: fresh tensors
