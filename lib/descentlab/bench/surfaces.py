"""``descentlab bench surfaces``: the explorer's update, and the paths behind it.

One update of :class:`descentlab.widgets.SurfaceExplorer` with 4 optimizers
(SGD, SGD+momentum, Adam, RMSprop) on Rosenbrock recomputes 4 paths and
redraws.  Timed in the same run:

* **explorer update**: recompute + redraw + JPEG, and its three parts (a
  slider move: the loss panel's frame is cached while its limits hold);
* **frame redraw**: the whole figure drawn again, what a change of the loss
  panel's limits (or of the surface) costs;
* **compiled paths**: the same 4 paths from ``descentlab.surfaces.trajectory``;
* **Python classes**: the same 4 paths by stepping descentlab.optim's classes
  in a Python loop on the surface's gradient (what the paths equal bit for bit);
* **torch.optim**: the same 4 paths on a 2-element tensor stepped in Python,
  with the gradient from autograd, or set from the analytic formula.

It also times, in fresh processes, the first trajectory of every optimizer
with an empty and with a filled Numba cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile

import numpy as np

from . import fmt_time, interleaved, python_seconds, table

TARGET = 0.100  # seconds for recompute + redraw
LABELS = {"SGD": ("SGD", {}), "SGD+momentum": ("SGD", {"momentum": 0.9}),
          "Adam": ("Adam", {}), "RMSprop": ("RMSprop", {})}


def contenders(steps: int) -> tuple[dict, dict]:
    import torch

    from .. import optim
    from .. import surfaces as S
    from ..widgets import SurfaceExplorer

    e = SurfaceExplorer("rosenbrock", optimizers=list(LABELS), steps=steps)
    s, x0 = e.surface, np.array(e.x0)
    runs = {label: (name, {**fixed, "lr": e.lr_sliders[label].value})
            for label, (name, fixed) in LABELS.items()}
    parts: dict[str, list[float]] = {"compute": [], "draw": [], "encode": []}

    def update():
        e.update()
        for k in parts:
            parts[k].append(e.timings[k])

    def frame():
        e._frame_key = None  # as if the loss panel's limits had moved
        e.update()

    def compiled():
        return [S.trajectory(name, s, x0, steps, **hyper) for name, hyper in runs.values()]

    def classes():
        out = []
        for name, hyper in runs.values():
            p = x0.copy()
            opt = getattr(optim, name)([p], **hyper)
            path = np.empty((steps + 1, 2))
            path[0] = p
            for t in range(steps):
                opt.step([np.array(s.grad(p[0], p[1]))])
                path[t + 1] = p
            out.append(path)
        return out

    a, b = s.params["a"], s.params["b"]

    def torch_paths(autograd: bool):
        out = []
        for name, hyper in runs.values():
            p = torch.tensor(x0, dtype=torch.float64, requires_grad=autograd)
            opt = getattr(torch.optim, name)([p], foreach=False, **hyper)
            path = torch.empty((steps + 1, 2), dtype=torch.float64)
            path[0] = p.detach()
            for t in range(steps):
                if autograd:
                    opt.zero_grad()
                    ((a - p[0]) ** 2 + b * (p[1] - p[0] ** 2) ** 2).backward()
                else:
                    q = p.detach().numpy()
                    p.grad = torch.tensor(s.grad(q[0], q[1]), dtype=torch.float64)
                opt.step()
                path[t + 1] = p.detach()
            out.append(path.numpy())
        return out

    # the peers compute the same paths: check before timing.  torch's agree
    # to rounding, which a chaotic path (RMSprop bouncing across the valley)
    # amplifies over hundreds of steps, so only the first 50 are compared.
    for ours, theirs in zip(compiled(), torch_paths(False)):
        np.testing.assert_allclose(ours[:50], theirs[:50], rtol=1e-9, atol=1e-12)
    for ours, theirs in zip(compiled(), classes()):
        np.testing.assert_array_equal(ours, theirs)

    return {"explorer update": update, "frame redraw": frame, "compiled paths": compiled, "Python classes": classes,
            "torch.optim, analytic grad": lambda: torch_paths(False),
            "torch.optim, autograd": lambda: torch_paths(True)}, parts


FIRST_CALL = """
import time
t0 = time.perf_counter()
import descentlab.surfaces as S
for name in S.OPTIMIZERS:
    S.trajectory(name, "rosenbrock", None, 10)
print(time.perf_counter() - t0)
"""

FIRST_EXPLORER = """
import time
t0 = time.perf_counter()
from descentlab.widgets import SurfaceExplorer
SurfaceExplorer("rosenbrock", optimizers=["SGD", "SGD+momentum", "Adam", "RMSprop"], steps=500)
print(time.perf_counter() - t0)
"""


def startup(repeat: int) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = python_seconds(FIRST_CALL, env)
        warm = statistics.median(python_seconds(FIRST_CALL, env) for _ in range(repeat))
        explorer = statistics.median(python_seconds(FIRST_EXPLORER, env) for _ in range(repeat))
    rows.append(["import + first path of all 11 optimizers, cold cache", fmt_time(cold)])
    rows.append(["import + first path of all 11 optimizers, warm cache", fmt_time(warm)])
    rows.append(["import + first SurfaceExplorer (4 x 500), warm cache", fmt_time(explorer)])
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=500, help="steps per path (default: 500)")
    parser.add_argument("--repeat", type=int, default=30,
                        help="timed rounds per contender (default: 30)")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the first-call timings in fresh processes")


def main(args: argparse.Namespace) -> int:
    import matplotlib
    import numba
    import torch

    if args.steps < 1 or args.repeat < 1:
        raise ValueError(f"--steps and --repeat must be >= 1, got {args.steps} and {args.repeat}")
    print(f"descentlab bench surfaces: {len(LABELS)} optimizers x {args.steps} steps on "
          f"Rosenbrock, median of {args.repeat} interleaved rounds")
    print(f"  {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numba {numba.__version__}, torch {torch.__version__}, "
          f"matplotlib {matplotlib.__version__} (Agg)\n")
    runs, parts = contenders(args.steps)
    times = interleaved(runs, args.repeat)
    ours = times["compiled paths"]
    update = times["explorer update"]
    rows = [["explorer update (recompute + redraw)", fmt_time(update),
             f"{update / ours:.1f}x", f"< {fmt_time(TARGET)}"]]
    for part, what in (("compute", "recompute: 4 compiled paths + losses"),
                       ("draw", "redraw: paths on cached contours, loss panel"),
                       ("encode", "JPEG for the Image widget")):
        t = statistics.median(parts[part])
        rows.append([f"  {what}", fmt_time(t), f"{t / ours:.1f}x", ""])
    for name in ("frame redraw", "compiled paths", "Python classes", "torch.optim, analytic grad",
                 "torch.optim, autograd"):
        rows.append([name, fmt_time(times[name]), f"{times[name] / ours:.1f}x", ""])
    print(table(["4 paths", "time", "ratio", "target"], rows))
    print("\nratio = time / compiled paths' time (above 1: slower than descentlab.surfaces).")
    print(f"target: an explorer update under {fmt_time(TARGET)}: "
          f"{'met' if update < TARGET else 'MISSED'} ({fmt_time(update)}).")
    if not args.no_startup:
        print()
        print(table(["start-up, fresh process", "time"], startup(repeat=3)))
    return 0
