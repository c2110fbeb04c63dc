"""Side-by-side runs with PyTorch: agreement with torch.optim, and device timing.

torch is imported inside the functions, so importing this module is cheap.

A device comparison, as the lectures run it (on a machine without a GPU the
picked device is the CPU and the table has one row per task)::

    device = pick_device()
    print("device:", device)
    rows = device_comparison(
        {"Adam step, 4M params": lambda dev: optimizer_step("Adam", 2**22, dev, lr=1e-3)},
        devices=[device, "cpu"])
    print(timing_table(rows))
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["pick_device", "synchronize", "time_on", "Agreement", "against_torch",
           "training_step", "optimizer_step", "Timing", "device_comparison", "timing_table",
           "Throughput", "throughput", "crossover", "throughput_table", "Traffic", "step_traffic",
           "copy_bandwidth", "Bandwidth", "bandwidth", "bandwidth_table"]


def pick_device(prefer: str | None = None):
    """The best available torch device: cuda, then mps, then cpu.

    ``prefer`` forces one ("cpu", "cuda", "mps"); a ValueError names it if it
    is not available here.
    """
    import torch

    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None
                 and torch.backends.mps.is_available()}
    if prefer is not None:
        if prefer not in available:
            raise ValueError(f"prefer must be one of {sorted(available)}, got {prefer!r}")
        if not available[prefer]:
            raise ValueError(f"prefer={prefer!r}: that device is not available on this machine")
        return torch.device(prefer)
    for name in ("cuda", "mps", "cpu"):
        if available[name]:
            return torch.device(name)
    raise AssertionError("unreachable: the CPU is always available")


def synchronize(device) -> None:
    """Wait for queued work on ``device``; GPU calls return before they finish."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_on(fn: Callable[[], object], device, repeat: int = 10, warmup: int = 2) -> float:
    """Median wall-clock seconds of ``fn()``, synchronising the device around each call."""
    if repeat < 1 or warmup < 0:
        raise ValueError(f"repeat must be >= 1 and warmup >= 0, got {repeat} and {warmup}")
    for _ in range(warmup):
        fn()
    synchronize(device)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


@dataclass(frozen=True)
class Agreement:
    name: str
    dtype: str
    steps: int
    max_relative_error: float

    def __str__(self) -> str:
        return (f"{self.name} ({self.dtype}, {self.steps} steps): "
                f"max relative difference from torch.optim {self.max_relative_error:.2e}")


def against_torch(name: str, steps: int = 300, dtype=np.float64, seed: int = 0,
                  size: int = 10, **hyper) -> Agreement:
    """Run descentlab's and torch's ``name`` optimizer on the same noisy quadratic.

    Both see the same gradients; the result is the largest difference of
    the parameters over the run, relative to their largest magnitude.
    """
    import torch

    from . import optim

    if name not in optim.TORCH_OPTIMIZERS:
        raise ValueError(f"name must be one of {optim.TORCH_OPTIMIZERS}, got {name!r}")
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(size).astype(dtype)
    curvature = rng.uniform(0.1, 1.0, size).astype(dtype)
    ours = p0.copy()
    theirs = torch.from_numpy(p0.copy()).requires_grad_()
    opt = getattr(optim, name)([ours], **hyper)
    topt = getattr(torch.optim, name)([theirs], foreach=False, **hyper)
    scale = float(np.max(np.abs(p0)))
    worst = 0.0
    for _ in range(steps):
        now = theirs.detach().numpy()
        g = (curvature * now + 0.1 * rng.standard_normal(size)).astype(dtype)
        theirs.grad = torch.from_numpy(g.copy())
        topt.step()
        opt.step([g])
        now = theirs.detach().numpy()
        scale = max(scale, float(np.max(np.abs(now))))
        worst = max(worst, float(np.max(np.abs(ours - now))) / scale)
    return Agreement(name, np.dtype(dtype).name, steps, worst)


# -- device comparisons -----------------------------------------------------------

def training_step(net, X, y, optimizer: str = "SGD", **hyper) -> Callable[[], float]:
    """A function that takes one training step of ``net`` and returns the loss.

    ``net`` is a torch module (e.g. ``MLP.to_torch().to(device)``); ``X`` and
    ``y`` (numpy arrays or tensors) are copied once to the device of its
    parameters.  A step is forward, cross-entropy, backward and one step of
    ``torch.optim.<optimizer>(**hyper)``.  The loss is returned as a tensor
    still on the device: reading it (``.item()``) would synchronise, which
    the timing does itself.
    """
    import torch

    if optimizer not in _torch_names():
        raise ValueError(f"training_step: optimizer must be one of {_torch_names()}, "
                         f"got {optimizer!r}")
    params = list(net.parameters())
    if not params:
        raise ValueError("training_step: net has no parameters")
    device, dtype = params[0].device, params[0].dtype
    X = torch.as_tensor(X, dtype=dtype).to(device)
    y = torch.as_tensor(y, dtype=torch.int64).to(device)
    opt = getattr(torch.optim, optimizer)(params, **hyper)
    loss_fn = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(X), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def optimizer_step(name: str, numel: int, device="cpu", *, dtype=None, seed: int = 0,
                   **hyper) -> Callable[[], object]:
    """A function that takes one step of ``torch.optim.<name>`` on a single
    parameter tensor of ``numel`` elements on ``device``.

    The parameter and its gradient are drawn once from a standard normal
    (``torch.Generator`` seeded with ``seed``, on the CPU, then moved), and
    the gradient stays fixed: what is timed is the optimizer's arithmetic
    and memory traffic alone.  ``dtype`` defaults to float32.  The returned
    function gives the parameter tensor.
    """
    import torch

    if name not in _torch_names():
        raise ValueError(f"optimizer_step: name must be one of {_torch_names()}, got {name!r}")
    if isinstance(numel, bool) or not isinstance(numel, int) or numel < 1:
        raise ValueError(f"optimizer_step: numel must be an int >= 1, got {numel!r}")
    device = torch.device(device)
    dtype = torch.float32 if dtype is None else dtype
    gen = torch.Generator().manual_seed(seed)
    p = torch.randn(numel, generator=gen, dtype=dtype).to(device).requires_grad_()
    p.grad = torch.randn(numel, generator=gen, dtype=dtype).to(device)
    opt = getattr(torch.optim, name)([p], **hyper)

    def step():
        opt.step()
        return p

    return step


def _torch_names() -> tuple[str, ...]:
    from .optim import TORCH_OPTIMIZERS

    return TORCH_OPTIMIZERS


@dataclass(frozen=True)
class Timing:
    """One measured task on one device: median seconds per call."""

    task: str
    device: str
    seconds: float


def device_comparison(tasks: dict[str, Callable], devices=None, *, repeat: int = 10,
                      warmup: int = 2) -> list[Timing]:
    """Time every task on every device, synchronising (see :func:`time_on`).

    ``tasks`` maps a label to a factory: called with a ``torch.device``, it
    builds what to time there and returns a function of no arguments (e.g.
    ``lambda dev: optimizer_step("Adam", 2**22, dev)``).  ``devices``
    defaults to ``[pick_device(), cpu]``; repeats are dropped, so on a
    machine without a GPU each task is timed once, on the CPU.
    """
    import torch

    if not isinstance(tasks, dict) or not tasks:
        raise ValueError(f"device_comparison: tasks must be a non-empty dict of "
                         f"label -> factory, got {tasks!r}")
    for label, factory in tasks.items():
        if not callable(factory):
            raise TypeError(f"device_comparison: tasks[{label!r}] must be callable, "
                            f"got {factory!r}")
    if devices is None:
        devices = [pick_device(), "cpu"]
    unique = []
    for d in devices:
        d = torch.device(d)
        if d not in unique:
            unique.append(d)
    rows = []
    for label, factory in tasks.items():
        for device in unique:
            rows.append(Timing(label, str(device), time_on(factory(device), device,
                                                           repeat=repeat, warmup=warmup)))
    return rows


def timing_table(timings: list[Timing]) -> str:
    """A plain-text table of :class:`Timing` rows, with each task's speed-up
    over its CPU time (how many times faster than the CPU)."""
    from .bench import fmt_time, table

    cpu = {t.task: t.seconds for t in timings if t.device == "cpu"}
    rows = []
    for t in timings:
        ratio = f"{cpu[t.task] / t.seconds:.2f}x" if t.task in cpu and t.seconds > 0 else "-"
        rows.append([t.task, t.device, fmt_time(t.seconds), ratio])
    return table(["task", "device", "time", "speed-up vs cpu"], rows)


# -- throughput against batch size ----------------------------------------------------

@dataclass(frozen=True)
class Throughput:
    """One batch size on one device: median seconds per training step and the
    examples per second that makes."""

    device: str
    batch_size: int
    seconds: float

    @property
    def samples_per_second(self) -> float:
        return self.batch_size / self.seconds if self.seconds > 0 else float("inf")


def _mlp(sizes, device, dtype, seed):
    import torch

    gen = torch.Generator().manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = torch.nn.Linear(fan_in, fan_out, dtype=dtype)
        with torch.no_grad():  # the same weights on every device, drawn on the CPU
            bound = fan_in ** -0.5
            lin.weight.copy_(torch.empty_like(lin.weight).uniform_(-bound, bound, generator=gen))
            lin.bias.copy_(torch.empty_like(lin.bias).uniform_(-bound, bound, generator=gen))
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(device)


def _positive_ints(name, values):
    values = tuple(values) if not isinstance(values, (str, bytes)) else values
    if (not isinstance(values, tuple) or not values
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values)):
        raise ValueError(f"{name} must be a non-empty sequence of ints >= 1, got {values!r}")
    return values


def throughput(batch_sizes=(1, 4, 16, 64, 256, 1024, 4096), devices=None, *,
               sizes=(784, 100, 10), optimizer: str = "SGD", repeat: int = 20,
               warmup: int = 3, seed: int = 0, dtype=None, **hyper) -> list[Throughput]:
    """Examples per second of one MLP training step, for each batch size on each device.

    The step is :func:`training_step` (forward, cross-entropy, backward,
    ``torch.optim.<optimizer>`` step) of a float32 MLP with layer widths
    ``sizes`` (784-100-10 by default, as MNIST's classic MLP) on random inputs
    and labels already on the device.  Each time is the median of ``repeat``
    synchronised calls (:func:`time_on`).  ``devices`` defaults to
    ``[pick_device(), "cpu"]``; without an accelerator that is the CPU alone,
    and the rows say so.  ``hyper`` goes to the optimizer (default lr=0.01).

    Why the curve bends: a step costs a fixed overhead (Python, kernel
    launches, on a GPU a few microseconds per kernel and a synchronisation)
    plus work proportional to the batch.  Small batches pay almost only the
    overhead, so samples/s grows linearly with b until the arithmetic units
    are busy, then flattens.  A GPU has the larger overhead and the larger
    ceiling, hence a crossover batch size (see :func:`crossover`).
    """
    import torch

    batch_sizes = _positive_ints("batch_sizes", batch_sizes)
    sizes = _positive_ints("sizes", sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must name at least an input and an output width, got {sizes!r}")
    if repeat < 1 or warmup < 0:
        raise ValueError(f"repeat must be >= 1 and warmup >= 0, got {repeat} and {warmup}")
    dtype = torch.float32 if dtype is None else dtype
    hyper = {"lr": 0.01, **hyper}
    if devices is None:
        devices = [pick_device(), "cpu"]
    unique = list(dict.fromkeys(torch.device(d) for d in devices))
    rows = []
    for device in unique:
        for b in batch_sizes:
            gen = torch.Generator().manual_seed(seed + b)
            X = torch.randn(b, sizes[0], generator=gen, dtype=dtype)
            y = torch.randint(0, sizes[-1], (b,), generator=gen)
            net = _mlp(sizes, device, dtype, seed)
            step = training_step(net, X, y, optimizer, **hyper)
            rows.append(Throughput(str(device), b, time_on(step, device, repeat, warmup)))
    return rows


def crossover(rows: list[Throughput], device: str | None = None) -> int | None:
    """The smallest measured batch size from which ``device`` (default: the one
    non-CPU device in ``rows``) is faster than the CPU at that batch size and
    every larger one measured; None if it never is, or if there is no
    accelerator in ``rows``."""
    cpu = {r.batch_size: r.seconds for r in rows if r.device == "cpu"}
    others = sorted({r.device for r in rows} - {"cpu"})
    if device is None:
        if len(others) > 1:
            raise ValueError(f"crossover: rows hold several accelerators {others}; pass device")
        if not others:
            return None
        device = others[0]
    acc = {r.batch_size: r.seconds for r in rows if r.device == device}
    if not acc:
        raise ValueError(f"crossover: no rows for device={device!r}")
    common = sorted(set(cpu) & set(acc))
    found = None
    for b in reversed(common):
        if acc[b] < cpu[b]:
            found = b
        else:
            break
    return found


def throughput_table(rows: list[Throughput]) -> str:
    """Samples/s for each batch size (rows) and device (columns)."""
    from .bench import table

    devices = list(dict.fromkeys(r.device for r in rows))
    sizes = sorted({r.batch_size for r in rows})
    cell = {(r.device, r.batch_size): r for r in rows}
    out = []
    for b in sizes:
        line = [str(b)]
        for d in devices:
            r = cell.get((d, b))
            line.append("-" if r is None else f"{r.samples_per_second:,.0f}")
        out.append(line)
    return table(["batch"] + [f"{d} samples/s" for d in devices], out)


# -- memory traffic of an optimizer step ----------------------------------------------

@dataclass(frozen=True)
class Traffic:
    """Bytes an optimizer step reads and writes, counted op by op."""

    bytes_read: int
    bytes_written: int
    ops: tuple[str, ...]
    param_bytes: int

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def passes(self) -> float:
        """Traffic in units of one parameter-sized tensor read or written once."""
        return self.bytes / self.param_bytes


IMPLEMENTATIONS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
                   "fused": {"fused": True}}


def _count_traffic(fn):
    """Run ``fn`` and count the bytes each aten op it dispatches touches.

    Every op is seen by a TorchDispatchMode before its kernel runs.  Per op:
    each distinct tensor argument is read once, except a pure destination
    (``copy_``'s self, ``out=``); each argument the schema marks as written
    (``Tensor(a!)``, the in-place and fused ops) and each freshly allocated
    result is written once, except the gradients of a fused step (written
    only when it unscales them for AMP).  Ops whose results are views of their
    inputs move nothing.  This is the traffic an unfused kernel must make at least; a
    cache can only hide it when the tensors fit in cache, which the sizes
    timed here do not.
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    read, written, ops = [0], [0], []

    def tensors(value):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from tensors(v)

    def nbytes(t):
        return t.numel() * t.element_size()

    class Counter(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            schema = func._schema
            if schema.returns and all(r.alias_info is not None and not r.alias_info.is_write
                                      for r in schema.returns):
                return out  # a view: no data moves
            seen_r, seen_w = set(), set()
            values = dict(zip((a.name for a in schema.arguments), args)) | kwargs
            for arg in schema.arguments:
                if arg.name not in values:
                    continue
                is_write = arg.alias_info is not None and arg.alias_info.is_write
                if arg.name == "grads" and values.get("grad_scale") is None:
                    # torch's fused kernels declare grads mutable because they
                    # unscale them in place for AMP; with no grad_scale they only read them
                    is_write = False
                dest_only = is_write and (arg.name == "out" or func.__name__.startswith("copy_"))
                for t in tensors(values[arg.name]):
                    key = (t.data_ptr(), t.numel())
                    if not dest_only and key not in seen_r:
                        seen_r.add(key)
                        read[0] += nbytes(t)
                    if is_write and key not in seen_w:
                        seen_w.add(key)
                        written[0] += nbytes(t)
            if not any(r.alias_info is not None for r in schema.returns):
                for t in tensors(out):
                    key = (t.data_ptr(), t.numel())
                    if key not in seen_w:
                        seen_w.add(key)
                        written[0] += nbytes(t)
            ops.append(str(func.overloadpacket.__name__))
            return out

    with Counter():
        fn()
    return read[0], written[0], tuple(ops)


def step_traffic(name: str, numel: int, device="cpu", *, implementation: str = "foreach",
                 dtype=None, **hyper) -> Traffic:
    """The bytes one steady-state step of ``torch.optim.<name>`` moves.

    Counted, not assumed: two steps run first (the first allocates the
    state), then the aten ops of a third step are intercepted and their
    tensor arguments added up (see ``_count_traffic``).  What this finds for
    torch's own code paths, per parameter element, in parameter-sized passes:

    * SGD with momentum, ``foreach``: ``_foreach_mul_(bufs, μ)`` reads and
      writes the buffer (2), ``_foreach_add_(bufs, grads)`` reads both and
      writes the buffer (3), ``_foreach_add_(params, bufs, alpha=-lr)`` reads
      both and writes the parameter (3): **8 passes**, where a single kernel
      needs 5 (read θ, g, b; write θ, b), which is what ``fused`` does.
    * SGD without momentum: 3 (read θ, g; write θ) either way.
    * Adam, ``foreach``: lerp into m (3), v·β₂ (2), addcmul into v (3), a
      temporary √v (2), its division by √(1-β₂ᵗ) (2) and +ε (2), and
      addcdiv into θ (4): 18 passes; ``fused``: 7 (read θ, g, m, v; write
      θ, m, v).

    ``implementation`` is "for-loop", "foreach" or "fused" (torch's
    ``foreach=False``, ``foreach=True`` and ``fused=True``).
    """
    import torch

    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {sorted(IMPLEMENTATIONS)}, "
                         f"got {implementation!r}")
    step = optimizer_step(name, numel, device, dtype=dtype, **IMPLEMENTATIONS[implementation],
                          **hyper)
    p = step()
    step()
    r, w, ops = _count_traffic(step)
    return Traffic(r, w, ops, p.numel() * p.element_size())


def copy_bandwidth(numel: int, device="cpu", *, dtype=None, repeat: int = 10,
                   warmup: int = 2) -> float:
    """GB/s of a device-to-device copy ``dst.copy_(src)`` of ``numel`` elements:
    2·numel·itemsize bytes (one read, one write) over the median time.

    On a GPU this is close to the memory's peak.  On a CPU a store to a line
    not in cache first reads it (write-allocate), so a copy really moves
    about 3 passes and an in-place optimizer step can beat this "peak"."""
    import torch

    if isinstance(numel, bool) or not isinstance(numel, int) or numel < 1:
        raise ValueError(f"copy_bandwidth: numel must be an int >= 1, got {numel!r}")
    device = torch.device(device)
    dtype = torch.float32 if dtype is None else dtype
    src = torch.ones(numel, dtype=dtype, device=device)
    dst = torch.empty_like(src)
    seconds = time_on(lambda: dst.copy_(src), device, repeat, warmup)
    return 2 * src.numel() * src.element_size() / seconds / 1e9


@dataclass(frozen=True)
class Bandwidth:
    """An optimizer step's effective bandwidth against a plain copy's."""

    task: str
    implementation: str
    device: str
    traffic: Traffic
    seconds: float
    copy_gbps: float

    @property
    def gbps(self) -> float:
        return self.traffic.bytes / self.seconds / 1e9

    @property
    def fraction(self) -> float:
        """Effective bandwidth as a fraction of the copy's: near 1 means the
        step is as fast as its memory traffic allows."""
        return self.gbps / self.copy_gbps


DEFAULT_STEPS = {"SGD momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
                 "Adam": ("Adam", {"lr": 1e-3})}


def bandwidth(steps: dict | None = None, numel: int = 2**24, device=None, *,
              implementations=("foreach", "fused"), repeat: int = 10, warmup: int = 2,
              dtype=None) -> list[Bandwidth]:
    """Effective GB/s of optimizer steps on one ``numel``-element float32
    parameter, against a copy of the same tensor on the same device.

    ``steps`` maps a label to ``(torch optimizer name, hyperparameters)``
    (default: SGD with momentum 0.9, and Adam).  Bytes are counted with
    :func:`step_traffic`, times are medians of synchronised steps.  The
    device defaults to :func:`pick_device`, so on a machine without an
    accelerator this measures the CPU (the rows say which).
    """
    import torch

    steps = DEFAULT_STEPS if steps is None else steps
    if not isinstance(steps, dict) or not steps:
        raise ValueError(f"bandwidth: steps must be a non-empty dict of label -> "
                         f"(name, hyper), got {steps!r}")
    for impl in implementations:
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"implementations must be among {sorted(IMPLEMENTATIONS)}, "
                             f"got {impl!r}")
    device = pick_device() if device is None else torch.device(device)
    copy = copy_bandwidth(numel, device, dtype=dtype, repeat=repeat, warmup=warmup)
    rows = []
    for label, spec in steps.items():
        if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict)):
            raise ValueError(f"bandwidth: steps[{label!r}] must be (name, hyper), got {spec!r}")
        name, hyper = spec
        for impl in implementations:
            traffic = step_traffic(name, numel, device, implementation=impl, dtype=dtype, **hyper)
            fn = optimizer_step(name, numel, device, dtype=dtype, **IMPLEMENTATIONS[impl], **hyper)
            rows.append(Bandwidth(label, impl, str(device), traffic,
                                  time_on(fn, device, repeat, warmup), copy))
    return rows


def bandwidth_table(rows: list[Bandwidth]) -> str:
    from .bench import fmt_time, table

    return table(["step", "implementation", "device", "passes", "time", "GB/s", "copy GB/s",
                  "fraction of copy"],
                 [[r.task, r.implementation, r.device, f"{r.traffic.passes:.2f}",
                   fmt_time(r.seconds), f"{r.gbps:.1f}", f"{r.copy_gbps:.1f}",
                   f"{r.fraction:.2f}"] for r in rows])
