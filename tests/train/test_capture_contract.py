"""The capture contract, enforced on CPU for the loop and every trick declaring `capturable`.

CUDA graph replay re-runs only the recorded tensor operations: Python in the step runs once,
at capture. So after the eager warm-up (`WARMUP_ITERATIONS`), an iteration of a capturable
job may not read a tensor on the host, produce a shape that depends on the data, change any
Python-side state (counters, lists, lazily made buffers, rebound tensors), or create
parameters or optimiser state. Each check below fails the test with the offending trick,
attribute path or operation named. The optimiser's own step is exempt from the host-read
check: on CPU torch's Adam reads its step count on the host; on CUDA it is built with
`capturable=True` (checked in test_capture.py).

What would land on the host on CUDA is tracked on CPU too (`HostTensors`): a tensor made by
a factory without `device=` stays on the host until moved with `.to(device)`. So the check
also fails on a 0-dim host tensor in the step's state (on CUDA its value would be baked into
the graph at capture), on a host-to-device copy in the step (from pageable memory on CUDA),
and on a generator other than the job's (a graph replays the draws of an unregistered one).
"""

from __future__ import annotations

import weakref

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from bench.data import load_dataset
from bench.plugins import Origin
from bench.train.capture import WARMUP_ITERATIONS
from bench.train.loop import GANStep, TrainContext
from bench.tricks.registry import ORIGINS, REGISTRY, Trick, all_tricks, build_tricks, resolve_tricks

CPU = torch.device("cpu")
CHECKED_ITERATIONS = 2
JOB_SEED = 271828  # the job's RNG, told apart from any other generator by this seed
ATEN = torch.ops.aten
INTEGER_INDEXING = {ATEN.index.Tensor, ATEN.index_put.default, ATEN.index_put_.default}
HOST_METHODS = ("tolist", "numpy", "cpu")
FACTORIES = {
    torch.tensor, torch.as_tensor, torch.scalar_tensor, torch.zeros, torch.ones, torch.full,
    torch.empty, torch.arange, torch.linspace, torch.logspace, torch.eye, torch.rand,
    torch.randn, torch.randint, torch.randperm,
}  # fmt: skip
COPIES_FROM_HOST = {torch.tensor, torch.as_tensor}  # with device=: copies host data over


class ContractBroken(AssertionError):
    """A capturable step did something graph replay would not repeat."""


class HostReadGuard(TorchDispatchMode):
    """Fails on host reads (`.item()`, `bool(t)`, `.tolist()`, `.numpy()`, `.cpu()`) and on
    operations whose output shape depends on the data (`nonzero`, boolean masks, `unique`).

    `paused` > 0 lets the optimiser's step through (see the module docstring).
    """

    def __init__(self, rng: torch.Generator | None = None) -> None:
        super().__init__()
        self.paused = 0
        self.saved: dict[str, object] = {}
        self.rng = rng

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self.paused:
            self.check(func, args)
            self.check_generator(func, [*args, *(kwargs or {}).values()])
        return func(*args, **(kwargs or {}))

    def check_generator(self, func, values) -> None:
        """Ops see a fresh Python handle of a generator: the job's is told by its seed."""
        for value in values:
            if isinstance(value, torch.Generator) and not _same_generator(value, self.rng):
                raise ContractBroken(
                    f"{func} draws from a generator other than the job's (ctx.rng): a graph "
                    "replays the draws of a generator it was not given"
                )

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


class HostTensors(TorchFunctionMode):
    """Where a CUDA run would put each tensor: one made by a factory without `device=` is
    on the host (`made`) until moved with `.to(device)` or `.cuda()` before the first
    iteration. While `in_step`, a host-to-device copy fails the check:
    `torch.tensor(data, device=...)`, or moving a host tensor (on CUDA both copy from
    pageable memory; on CPU the move returns the same tensor, so a move in the step leaves
    it marked)."""

    def __init__(self, guard: HostReadGuard) -> None:
        super().__init__()
        self.made: dict[int, weakref.ref] = {}
        self.in_step = False
        self.guard = guard  # its pause (the optimiser's step) applies here too

    def holds(self, tensor: torch.Tensor) -> bool:
        ref = self.made.get(id(tensor))
        return ref is not None and ref() is tensor

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.guard.paused:
            return func(*args, **kwargs)
        if self.in_step and func in COPIES_FROM_HOST and kwargs.get("device") is not None:
            raise ContractBroken(
                f"torch.{func.__name__}(..., device=...) in the step: a copy from pageable "
                "host memory on CUDA (make it once, on the device, before the step)"
            )
        moves = func is torch.Tensor.cuda or (func is torch.Tensor.to and _to_device(args, kwargs))
        if self.in_step and moves and self.holds(args[0]):
            raise ContractBroken(
                "a host tensor is copied to the device in the step: from pageable host memory "
                "on CUDA (make it on the device, before the step)"
            )
        out = func(*args, **kwargs)
        if func in FACTORIES and kwargs.get("device") is None:
            self.made[id(out)] = weakref.ref(out)
        elif moves and isinstance(out, torch.Tensor):
            self.made.pop(id(out), None)
        return out


def _same_generator(value: torch.Generator, rng: torch.Generator | None) -> bool:
    return rng is not None and value.initial_seed() == rng.initial_seed()


def _to_device(args, kwargs) -> bool:
    """Whether a `Tensor.to` call names a device (or a tensor to take one from)."""
    if kwargs.get("device") is not None:
        return True
    return any(isinstance(a, (str, torch.device, torch.Tensor)) for a in args[1:])


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


def snapshot(
    root: object,
    path: str = "",
    seen: dict[int, str] | None = None,
    found: dict[str, object] | None = None,
) -> dict[str, object]:
    """Every attribute reachable from `root`: Python values as they are, tensors by data
    pointer, shape and dtype (their values may change, their memory may not). `found`, when
    given, collects each tensor and generator by its path."""
    seen = {} if seen is None else seen
    if isinstance(root, (torch.Tensor, torch.Generator)) and found is not None:
        found[path] = root
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
    state: dict[str, object] = {path: (type(root).__name__, len(items))}
    for key, value in items:
        state.update(snapshot(value, f"{path}.{key}", seen, found))
    return state


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
    torch.manual_seed(0)
    guard = HostReadGuard()
    host = HostTensors(guard)
    with host:
        tricks = build_tricks(resolve_tricks(cfg.tricks, "test", dataset.capabilities))
        ctx = TrainContext(
            device=CPU,
            rng=torch.Generator().manual_seed(JOB_SEED),
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
    guard.rng = ctx.rng
    for optimizer in (step.opt_d, step.opt_g):
        optimizer.register_step_pre_hook(lambda *_: setattr(guard, "paused", guard.paused + 1))
        optimizer.register_step_post_hook(lambda *_: setattr(guard, "paused", guard.paused - 1))
    host.in_step = True  # warm-up iterations run the code a capture records
    with host:
        for i in range(WARMUP_ITERATIONS):
            ctx.step.fill_(i)
            step.iteration()
    roots = {"step": step, **{trick.name: trick for trick in tricks}}
    held: dict[str, object] = {}
    before = {name: snapshot(obj, name, found=held) for name, obj in roots.items()}
    check_held(held, host, ctx.rng)
    pattern = step.schedule()
    for i in range(CHECKED_ITERATIONS):
        ctx.step.fill_(WARMUP_ITERATIONS + i)
        with guard, host:  # the schedule runs on the host before each replay: no reads there
            now = step.schedule()
            step.iteration(now)
        for name, obj in roots.items():
            changed = changes(before[name], snapshot(obj, name))
            if changed:
                raise ContractBroken(f"Python-side state changed in '{name}': {changed[:5]}")
        if now != pattern:
            raise ContractBroken(f"the schedule pattern changed: {pattern} -> {now}")


def check_held(held: dict[str, object], host: HostTensors, rng: torch.Generator) -> None:
    """The step's state holds no 0-dim host tensor and no generator but the job's."""
    scalars = [
        path for path, obj in held.items()
        if isinstance(obj, torch.Tensor) and obj.dim() == 0 and host.holds(obj)
    ]  # fmt: skip
    if scalars:
        raise ContractBroken(
            f"0-dim tensors made on the host (no device=) in the step's state: {scalars[:5]}; "
            "on CUDA their value would be baked into the graph at capture"
        )
    generators = [
        p for p, obj in held.items() if isinstance(obj, torch.Generator) and obj is not rng
    ]
    if generators:
        raise ContractBroken(
            f"a generator other than the job's in the step's state: {generators[:5]}; a graph "
            "replays the draws of a generator it was not given (draw from ctx.rng)"
        )


CAPTURABLE = sorted(name for name, cls in all_tricks().items() if cls.capturable)


def test_most_tricks_are_capturable() -> None:
    assert len(CAPTURABLE) >= 0.75 * len(all_tricks())


def test_the_plain_loop_keeps_the_contract(tiny_job) -> None:
    check_contract(tiny_job, {})


@pytest.mark.parametrize("name", CAPTURABLE)
def test_each_capturable_trick_keeps_the_contract(tiny_job, trick_alone, name: str) -> None:
    check_contract(tiny_job, trick_alone(name))


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
    [
        ("checkpoint_swapping", "Python-side state|host read"),
        ("loss_threshold_balancing", "host read"),
    ],
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


class Misplaced(Trick):
    """A capturable-claiming trick that does one thing a CUDA graph would get wrong."""

    family = "test"
    citation = "none: a test double"
    capturable = True
    breach = ""

    def setup(self, ctx: TrainContext) -> None:
        self.scale = torch.tensor(0.5, device=ctx.device)
        self.weights = torch.ones(3, device=ctx.device)
        self.rng = ctx.rng
        if self.breach == "host scalar":
            self.scale = torch.tensor(0.5)  # no device=: on the host on CUDA
        if self.breach == "moved host tensor":
            self.weights = torch.ones(3)
        if self.breach == "own generator":
            self.rng = torch.Generator().manual_seed(1)

    def d_loss(self, loss, terms, ctx: TrainContext):
        noise = torch.rand((), generator=self.rng, device=ctx.device)
        if self.breach == "generator made in the step":
            noise = torch.rand((), generator=torch.Generator().manual_seed(1))
        if self.breach == "paged copy":
            noise = noise * torch.tensor(0.5, device=ctx.device)
        weights = (
            self.weights.to(ctx.device) if self.breach == "moved host tensor" else self.weights
        )
        return loss * self.scale + 0 * noise + 0 * weights.sum()


@pytest.mark.parametrize(
    ("breach", "message"),
    [
        ("", None),
        ("host scalar", "0-dim tensors made on the host .* 'misplaced.scale'"),
        ("own generator", "a generator other than the job's in the step's state"),
        ("generator made in the step", "draws from a generator other than the job's"),
        ("paged copy", "torch.tensor.*device=.* in the step: a copy from pageable host memory"),
        ("moved host tensor", "a host tensor is copied to the device in the step"),
    ],
)
def test_the_contract_sees_what_would_go_wrong_on_cuda(
    tiny_job, monkeypatch, breach: str, message: str | None
) -> None:
    """What CPU cannot show by running it, the contract shows by tracking where each tensor
    would live on CUDA; the same trick without the breach keeps the contract."""
    cls = type("MisplacedTrick", (Misplaced,), {"name": "misplaced", "breach": breach})
    monkeypatch.setitem(REGISTRY, "misplaced", cls)
    monkeypatch.setitem(ORIGINS, "misplaced", Origin("tests.train.test_capture_contract"))
    if message is None:
        check_contract(tiny_job, {"misplaced": {}})
        return
    with pytest.raises(ContractBroken, match=message):
        check_contract(tiny_job, {"misplaced": {}})


def test_the_context_keeps_its_step_and_losses_on_its_device() -> None:
    ctx = TrainContext(torch.device("meta"), torch.Generator(), 1, 2, 2, (1, 2, 2))
    assert {t.device.type for t in (ctx.step, ctx.last_d_loss, ctx.last_g_loss)} == {"meta"}
