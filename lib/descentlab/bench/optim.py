"""``descentlab bench optim``: one optimizer step on many parameters.

Peers, all timed in the same run on the same data:

* **floor**: a parallel streaming kernel that reads and writes exactly the
  bytes the step must (Adam reads p, g, m, v and writes p, m, v); no step can
  beat memory bandwidth, so this is the bound.
* **torch fused**: ``torch.optim.Adam(..., fused=True)`` on the CPU.
* **torch foreach**: the multi-tensor implementation.
* **numpy**: the update written as plain numpy array expressions.

It also times ``import descentlab`` and the first step in a fresh process,
with an empty and with a filled Numba cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile

import numpy as np

from . import fmt_time, interleaved, python_seconds, table
from .._jit import kernel, prange

TARGETS = {"torch fused": 1.0, "floor": 1.15}


@kernel
def stream_adam(p, g, m, v):
    """Reads p, g, m, v and writes p, m, v: Adam's memory traffic, no arithmetic to speak of."""
    for i in prange(p.size):
        gi = g[i]
        m[i] = m[i] + gi
        v[i] = v[i] + gi
        p[i] = p[i] + gi


@kernel
def stream_sgd(p, g, buf):
    """Reads p, g, buf and writes p, buf: SGD-with-momentum's memory traffic."""
    for i in prange(p.size):
        gi = g[i]
        buf[i] = buf[i] + gi
        p[i] = p[i] + gi


def numpy_adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    t = 0

    def step(p, g, m, v):
        nonlocal t
        t += 1
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        p -= lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
    return step


def numpy_sgd(lr=1e-3, mu=0.9):
    def step(p, g, buf):
        buf *= mu
        buf += g
        p -= lr * buf
    return step


def contenders(algorithm: str, n: int, dtype) -> dict:
    import torch

    from .. import optim

    rng = np.random.default_rng(0)
    g = rng.standard_normal(n).astype(dtype)
    fresh = lambda: rng.standard_normal(n).astype(dtype)  # noqa: E731
    out = {}
    if algorithm == "Adam":
        p = fresh()
        ours = optim.Adam([p], lr=1e-3)
        out["descentlab"] = lambda: ours.step([g])
        arrays = (fresh(), g, np.zeros(n, dtype), np.zeros(n, dtype))
        out["floor"] = lambda: stream_adam(*arrays)
        make = lambda **kw: torch.optim.Adam(kw.pop("params"), lr=1e-3, **kw)  # noqa: E731
        naive = numpy_adam()
        np_arrays = (fresh(), g, np.zeros(n, dtype), np.zeros(n, dtype))
        out["numpy"] = lambda: naive(*np_arrays)
    else:
        p = fresh()
        ours = optim.SGD([p], lr=1e-3, momentum=0.9)
        out["descentlab"] = lambda: ours.step([g])
        arrays = (fresh(), g, np.zeros(n, dtype))
        out["floor"] = lambda: stream_sgd(*arrays)
        make = lambda **kw: torch.optim.SGD(kw.pop("params"), lr=1e-3, momentum=0.9, **kw)  # noqa: E731
        naive = numpy_sgd()
        np_arrays = (fresh(), g, np.zeros(n, dtype))
        out["numpy"] = lambda: naive(*np_arrays)
    for label, flag in (("torch fused", "fused"), ("torch foreach", "foreach")):
        tp = torch.from_numpy(fresh()).requires_grad_()
        tp.grad = torch.from_numpy(g)
        topt = make(params=[tp], **{flag: True})
        out[label] = topt.step
    return out


STARTUP_IMPORT = """
import time
t0 = time.perf_counter()
import {module}
print(time.perf_counter() - t0)
"""

STARTUP_STEP = """
import time
import numpy as np
from descentlab.optim import Adam
p = np.zeros({n}, np.float32)
g = np.ones({n}, np.float32)
opt = Adam([p])
t0 = time.perf_counter()
opt.step([g])
print(time.perf_counter() - t0)
"""


def startup(repeat: int) -> list[list[str]]:
    import statistics

    rows = []
    for module in ("descentlab", "descentlab.optim"):
        secs = statistics.median(python_seconds(STARTUP_IMPORT.format(module=module))
                                 for _ in range(repeat))
        rows.append([f"import {module}", fmt_time(secs), "< 0.5 s" if module == "descentlab" else ""])
    for n, what in ((1_000, "serial kernel"), (1_000_000, "parallel kernel")):
        with tempfile.TemporaryDirectory() as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            cold = python_seconds(STARTUP_STEP.format(n=n), env)
            warm = statistics.median(python_seconds(STARTUP_STEP.format(n=n), env)
                                     for _ in range(repeat))
        rows.append([f"first Adam step, {n:,} float32 ({what}), cold cache", fmt_time(cold), ""])
        rows.append([f"first Adam step, {n:,} float32 ({what}), warm cache", fmt_time(warm),
                     "< 0.3 s"])
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=10_000_000,
                        help="parameters per step (default: 10,000,000)")
    parser.add_argument("--repeat", type=int, default=20,
                        help="timed rounds per contender (default: 20)")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the import and first-step timings")


def main(args: argparse.Namespace) -> int:
    import numba
    import torch

    if args.size < 1 or args.repeat < 1:
        raise ValueError(f"--size and --repeat must be >= 1, got {args.size} and {args.repeat}")
    print(f"descentlab bench optim: one step on {args.size:,} parameters, "
          f"median of {args.repeat} interleaved rounds")
    print(f"  {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)\n")
    peers = ["floor", "torch fused", "torch foreach", "numpy"]
    rows = []
    for algorithm in ("Adam", "SGD"):
        for dtype in (np.float32, np.float64):
            times = interleaved(contenders(algorithm, args.size, dtype), args.repeat)
            ours = times["descentlab"]
            rows.append([algorithm if algorithm == "Adam" else "SGD momentum",
                         np.dtype(dtype).name, fmt_time(ours)]
                        + [f"{fmt_time(times[p])} ({ours / times[p]:.2f}x)" for p in peers])
    print(table(["step", "dtype", "descentlab"] + [f"{p} (ratio)" for p in peers], rows))
    print("\nratio = descentlab time / peer time (below 1: descentlab is faster).")
    print("targets: Adam float32 <= 1.00x torch fused, <= 1.15x floor.")
    if not args.no_startup:
        print()
        print(table(["start-up", "time", "target"], startup(repeat=5)))
    return 0
