"""Side-by-side runs with PyTorch: agreement with torch.optim, and device timing.

torch is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["pick_device", "synchronize", "time_on", "Agreement", "against_torch"]


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
