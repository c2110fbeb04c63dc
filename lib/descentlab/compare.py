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
           "training_step", "optimizer_step", "Timing", "device_comparison", "timing_table"]


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
