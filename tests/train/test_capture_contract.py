"""The capture contract, enforced on CPU for the loop and every trick declaring `capturable`.

CUDA graph replay re-runs only the recorded tensor operations: Python in the step runs once,
at capture. So after the eager warm-up (`WARMUP_ITERATIONS`), an iteration of a capturable
job may not read a tensor on the host, produce a shape that depends on the data, change any
Python-side state (counters, lists, lazily made buffers, rebound tensors), or create
parameters or optimiser state. Each check below fails the test with the offending trick,
attribute path or operation named. The optimiser's own step is exempt from the host-read
check: on CPU torch's Adam reads its step count on the host; on CUDA it is built with
`capturable=True` (checked in test_capture.py).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from bench.data import load_dataset
from bench.train.capture import WARMUP_ITERATIONS
from bench.train.loop import GANStep, TrainContext
from bench.tricks.registry import all_tricks, build_tricks

CPU = torch.device("cpu")
CHECKED_ITERATIONS = 2
ATEN = torch.ops.aten
INTEGER_INDEXING = {ATEN.index.Tensor, ATEN.index_put.default, ATEN.index_put_.default}
HOST_METHODS = ("tolist", "numpy", "cpu")


class ContractBroken(AssertionError):
    """A capturable step did something graph replay would not repeat."""


class HostReadGuard(TorchDispatchMode):
    """Fails on host reads (`.item()`, `bool(t)`, `.tolist()`, `.numpy()`, `.cpu()`) and on
    operations whose output shape depends on the data (`nonzero`, boolean masks, `unique`).

    `paused` > 0 lets the optimiser's step through (see the module docstring).
    """

    def __init__(self) -> None:
        super().__init__()
        self.paused = 0
        self.saved: dict[str, object] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self.paused:
            self.check(func, args)
        return func(*args, **(kwargs or {}))

    def check(self, func, args) -> None:
        tags = func.tags
        if torch.Tag.data_dependent_output in tags:
            raise ContractBroken(f"host read: {func} (e.g. .item(), bool(tensor), float(tensor))")
        if func is ATEN.lift_fresh.default and args[0].numel() > 1:
            raise ContractBroken("torch.tensor(data) in the step: a host-to-device copy on CUDA")
        if torch.Tag.dynamic_output_shape not in tags:
            return
        if func in INTEGER_INDEXING and not _has_mask(args):
            return
        raise ContractBroken(f"data-dependent output shape: {func}")

    def __enter__(self):
        for name in HOST_METHODS:
            self.saved[name] = getattr(torch.Tensor, name)
            setattr(torch.Tensor, name, _refuse(name))
        return super().__enter__()

    def __exit__(self, *exc):
        for name, method in self.saved.items():
            setattr(torch.Tensor, name, method)
        return super().__exit__(*exc)


def _refuse(name: str):
    def method(self, *args, **kwargs):
        raise ContractBroken(f"host read: Tensor.{name}()")

    return method


def _has_mask(args) -> bool:
    indices = args[1] if len(args) > 1 else []
    return any(
        isinstance(index, torch.Tensor) and index.dtype in (torch.bool, torch.uint8)
        for index in indices or []
    )


def snapshot(root: object, path: str = "", seen: dict[int, str] | None = None) -> dict[str, object]:
    """Every attribute reachable from `root`: Python values as they are, tensors by data
    pointer, shape and dtype (their values may change, their memory may not)."""
    seen = {} if seen is None else seen
    if isinstance(root, torch.Tensor):
        return {path: ("tensor", root.data_ptr(), tuple(root.shape), root.dtype)}
    if isinstance(root, (int, float, str, bool, type(None), torch.device, torch.dtype)):
        return {path: root}
    if id(root) in seen:
        return {path: ("same object as", seen[id(root)])}
    seen[id(root)] = path
    if isinstance(root, torch.Generator):
        return {path: "generator"}  # its state advances; on CUDA the graph owns it
    if isinstance(root, dict):
        items = [(_key(key), value) for key, value in root.items()]
    elif isinstance(root, (list, tuple, set, frozenset)):
        items = list(enumerate(root)) if not isinstance(root, (set, frozenset)) else []
        if isinstance(root, (set, frozenset)):
            return {path: ("set", len(root))}
    elif (hasattr(root, "__dict__") and not callable(root)) or isinstance(root, torch.nn.Module):
        items = list(vars(root).items())
    else:
        return {path: type(root).__name__}
    found: dict[str, object] = {path: (type(root).__name__, len(items))}
    for key, value in items:
        found.update(snapshot(value, f"{path}.{key}", seen))
    return found


def _key(key: object) -> object:
    return f"tensor@{key.data_ptr()}" if isinstance(key, torch.Tensor) else key


def changes(before: dict[str, object], after: dict[str, object]) -> list[str]:
    keys = sorted(set(before) | set(after))
    return [
        f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in keys if before.get(k) != after.get(k)
    ]


def check_contract(tiny_job, spec: dict[str, dict]) -> None:
    """Warm up, then run `CHECKED_ITERATIONS` guarded iterations; raise on any breach."""
    cfg = tiny_job(steps=WARMUP_ITERATIONS + CHECKED_ITERATIONS, **spec)
    dataset = load_dataset(cfg.data)
    tricks = build_tricks(cfg.tricks, "test", dataset.capabilities)
    torch.manual_seed(0)
    ctx = TrainContext(
        device=CPU,
        rng=torch.Generator().manual_seed(0),
        total_steps=cfg.train.steps,
        batch_size=cfg.train.batch_size,
        latent_dim=cfg.model.latent_dim,
        data_shape=tuple(dataset.train.shape[1:]),
        num_classes=dataset.num_classes if dataset.train_labels is not None else None,
    )
    data = dataset.train
    for trick in tricks:
        trick.setup(ctx)
    for trick in tricks:
        data = trick.prepare_data(data, ctx)
    step = GANStep(cfg, data, tricks, ctx, dataset.train_labels)
    guard = HostReadGuard()
    for optimizer in (step.opt_d, step.opt_g):
        optimizer.register_step_pre_hook(lambda *_: setattr(guard, "paused", guard.paused + 1))
        optimizer.register_step_post_hook(lambda *_: setattr(guard, "paused", guard.paused - 1))
    for i in range(WARMUP_ITERATIONS):
        ctx.step.fill_(i)
        step.iteration()
    roots = {"step": step, **{trick.name: trick for trick in tricks}}
    before = {name: snapshot(obj, name) for name, obj in roots.items()}
    pattern = step.schedule()
    for i in range(CHECKED_ITERATIONS):
        ctx.step.fill_(WARMUP_ITERATIONS + i)
        with guard:  # the schedule runs on the host before each replay: no reads there either
            now = step.schedule()
            step.iteration(now)
        for name, obj in roots.items():
            changed = changes(before[name], snapshot(obj, name))
            if changed:
                raise ContractBroken(f"Python-side state changed in '{name}': {changed[:5]}")
        if now != pattern:
            raise ContractBroken(f"the schedule pattern changed: {pattern} -> {now}")


CAPTURABLE = sorted(name for name, cls in all_tricks().items() if cls.capturable)


def test_most_tricks_are_capturable() -> None:
    assert len(CAPTURABLE) >= 0.75 * len(all_tricks())


def test_the_plain_loop_keeps_the_contract(tiny_job) -> None:
    check_contract(tiny_job, {})


@pytest.mark.parametrize("name", CAPTURABLE)
def test_each_capturable_trick_keeps_the_contract(tiny_job, trick_settings, name: str) -> None:
    check_contract(tiny_job, {name: trick_settings(name)})


@pytest.mark.parametrize("order", ["every third from 1", "every third from 2", "reverse"])
def test_mixed_capturable_combinations_keep_the_contract(
    tiny_job, compatible_combination, order: str
) -> None:
    """Greedy valid combinations of ~30 tricks each, starting from different tricks."""
    names = CAPTURABLE[::-1] if order == "reverse" else CAPTURABLE[int(order[-1]) :: 3]
    names += CAPTURABLE
    spec = compatible_combination(names, load_dataset(tiny_job().data).capabilities)
    assert len(spec) >= 6, spec
    check_contract(tiny_job, spec)


@pytest.mark.parametrize(
    ("name", "breach"),
    [("checkpoint_swapping", "Python-side state"), ("loss_threshold_balancing", "host read")],
)
def test_the_contract_catches_tricks_that_declare_themselves_eager(
    tiny_job, name: str, breach: str
) -> None:
    """The check would fail these two, which is why they say `capturable = False`."""
    spec = {name: {"every": 1} if name == "checkpoint_swapping" else {}}
    with pytest.raises(ContractBroken, match=breach):
        check_contract(tiny_job, spec)


def test_the_guard_refuses_host_reads_and_masks() -> None:
    x = torch.arange(4.0)
    for read in (
        lambda: x.sum().item(),
        lambda: bool(x[0]),
        lambda: x.tolist(),
        lambda: x[x > 1],
        lambda: x.nonzero(),
        lambda: torch.unique(x),
    ):
        with pytest.raises(ContractBroken), HostReadGuard():
            read()
    with pytest.raises(ContractBroken, match="host-to-device"), HostReadGuard():
        torch.tensor([1.0, 2.0])
    index = torch.tensor([1, 2])
    with HostReadGuard():
        assert x[index].shape == (2,)  # integer indexing has a fixed shape
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]  # restored outside the guard
