"""``descentlab bench layers``: batch and group normalisation, forward and
backward, against torch.

Peers, timed in the same run on the same data:

* **torch**: ``F.batch_norm`` in training mode (running statistics updated in
  place, as ours are), or ``F.group_norm`` (``--groups`` groups, 32 by default
  as in Wu & He, fewer when C has no such divisor), and
  ``torch.autograd.grad`` for dx, dgamma and dbeta: what a training step pays
  for the layer on the CPU.

Both sides accumulate float32 sums in float64 (torch's CPU kernels do too)
and both are timed from NumPy/torch arrays in memory to gradients in memory.
The forward and backward passes are also timed alone, for a reader to see
where the time goes; the target is on the pair.
"""

from __future__ import annotations

import argparse
import math
import os
import platform

import numpy as np

from . import fmt_time, interleaved, table

TARGET = 1.5  # descentlab forward+backward time / torch's, at most
DEFAULT_SHAPES = ((256, 1024), (64, 64, 32, 32))


def groups_for(channels: int, wanted: int) -> int:
    """The largest divisor of ``channels`` that is at most ``wanted``."""
    return max(g for g in range(1, min(channels, wanted) + 1) if channels % g == 0)


def groupnorm_contenders(shape: tuple[int, ...], dtype, groups: int) -> dict:
    import torch
    import torch.nn.functional as F

    from ..layers import groupnorm_backward, groupnorm_forward

    rng = np.random.default_rng(0)
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, C).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)

    def ours():
        out, cache = groupnorm_forward(x, groups, gamma, beta)
        return out, groupnorm_backward(dout, cache)

    def ours_forward():
        return groupnorm_forward(x, groups, gamma, beta)

    cache = ours_forward()[1]

    def ours_backward():
        return groupnorm_backward(dout, cache)

    tx, tgamma, tbeta = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, gamma, beta))
    tdout = torch.from_numpy(dout)

    def theirs():
        out = F.group_norm(tx, groups, tgamma, tbeta, 1e-5)
        return out, torch.autograd.grad(out, (tx, tgamma, tbeta), tdout)

    def theirs_forward():
        with torch.no_grad():
            return F.group_norm(tx, groups, tgamma, tbeta, 1e-5)

    graph = F.group_norm(tx, groups, tgamma, tbeta, 1e-5)

    def theirs_backward():
        return torch.autograd.grad(graph, (tx, tgamma, tbeta), tdout, retain_graph=True)

    return {"descentlab": ours, "torch": theirs,
            "descentlab forward": ours_forward, "torch forward": theirs_forward,
            "descentlab backward": ours_backward, "torch backward": theirs_backward}


def contenders(shape: tuple[int, ...], dtype) -> dict:
    import torch
    import torch.nn.functional as F

    from ..layers import batchnorm_backward, batchnorm_forward

    rng = np.random.default_rng(0)
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, C).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    running_mean, running_var = np.zeros(C, dtype), np.ones(C, dtype)

    def ours():
        out, cache = batchnorm_forward(x, gamma, beta, running_mean, running_var)
        return out, batchnorm_backward(dout, cache)

    def ours_forward():
        return batchnorm_forward(x, gamma, beta, running_mean, running_var)

    cache = ours_forward()[1]

    def ours_backward():
        return batchnorm_backward(dout, cache)

    tx, tgamma, tbeta = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, gamma, beta))
    trm, trv = torch.from_numpy(running_mean.copy()), torch.from_numpy(running_var.copy())
    tdout = torch.from_numpy(dout)

    def theirs():
        out = F.batch_norm(tx, trm, trv, tgamma, tbeta, True, 0.1, 1e-5)
        return out, torch.autograd.grad(out, (tx, tgamma, tbeta), tdout)

    def theirs_forward():
        with torch.no_grad():
            return F.batch_norm(tx, trm, trv, tgamma, tbeta, True, 0.1, 1e-5)

    graph = F.batch_norm(tx, trm, trv, tgamma, tbeta, True, 0.1, 1e-5)

    def theirs_backward():
        return torch.autograd.grad(graph, (tx, tgamma, tbeta), tdout, retain_graph=True)

    return {"descentlab": ours, "torch": theirs,
            "descentlab forward": ours_forward, "torch forward": theirs_forward,
            "descentlab backward": ours_backward, "torch backward": theirs_backward}


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shape must be integers separated by commas, "
                                         f"got {text!r}") from None
    if len(shape) < 2 or min(shape) < 1 or shape[0] * math.prod(shape[2:]) < 2:
        raise argparse.ArgumentTypeError(
            f"--shape must be N,C[,H,W] with positive sizes and at least 2 values per "
            f"channel, got {text!r}")
    return shape


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", type=parse_shape, action="append", metavar="N,C[,H,W]",
                        help="input shape, repeatable (default: 256,1024 and 64,64,32,32)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="element type (default: float32)")
    parser.add_argument("--groups", type=int, default=32,
                        help="group norm's groups, at most (default: 32; the largest divisor "
                             "of C up to it is used)")
    parser.add_argument("--repeat", type=int, default=50,
                        help="timed rounds per contender (default: 50)")


def main(args: argparse.Namespace) -> int:
    import numba
    import torch

    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    if args.groups < 1:
        raise ValueError(f"--groups must be >= 1, got {args.groups}")
    shapes = args.shape or DEFAULT_SHAPES
    dtype = np.dtype(args.dtype)
    print(f"descentlab bench layers: batchnorm in training mode and groupnorm, {dtype.name}, "
          f"median of {args.repeat} interleaved rounds")
    print(f"  {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    load = os.getloadavg()[0]
    busy = load > 0.5 * (os.cpu_count() or 1)
    print(f"  load average {load:.2f}" + (": other work is running, so threaded timings "
                                           "of both sides may be far off" if busy else "") + "\n")
    rows = []
    for shape in shapes:
        groups = groups_for(shape[1], args.groups)
        for layer, suite in ((f"batchnorm {shape}", contenders(shape, dtype)),
                             (f"groupnorm {shape} G={groups}",
                              groupnorm_contenders(shape, dtype, groups))):
            times = interleaved(suite, args.repeat, warmup=3)
            for label, ours, theirs, target in (
                    ("forward+backward", "descentlab", "torch", f"<= {TARGET:.2f}x"),
                    ("forward", "descentlab forward", "torch forward", ""),
                    ("backward", "descentlab backward", "torch backward", "")):
                ratio = times[ours] / times[theirs]
                rows.append([layer, label, fmt_time(times[ours]),
                             fmt_time(times[theirs]), f"{ratio:.2f}x", target])
    print(table(["layer", "pass", "descentlab", "torch", "ratio", "target"], rows))
    print("\nratio = descentlab time / torch time (below 1: descentlab is faster).")
    print(f"target: forward+backward <= {TARGET}x torch on the CPU.")
    return 0
