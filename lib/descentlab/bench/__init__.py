"""``descentlab bench``: speed measured against peers in the same run.

Absolute times on a shared machine drift from minute to minute, so every
benchmark times descentlab and its peers in interleaved rounds and reports
ratios.  Nothing here is a pass/fail test; the targets are printed beside
the measurements for a reader to judge.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

__all__ = ["interleaved", "fmt_time", "table", "python_seconds", "SUITES"]

#: name -> module with ``add_arguments(parser)`` and ``main(args) -> int``
SUITES = {
    "optim": "descentlab.bench.optim",
    "layers": "descentlab.bench.layers",
    "surfaces": "descentlab.bench.surfaces",
    "grading": "descentlab.bench.grading",
    "device": "descentlab.bench.device",
}


def interleaved(contenders: dict[str, Callable[[], object]], repeat: int,
                warmup: int = 1) -> dict[str, float]:
    """Median seconds per call of each contender, timed round-robin.

    Round-robin order means a slow spell on the machine hits every contender
    alike instead of whichever happened to run during it.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


def fmt_time(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def python_seconds(code: str, env: dict[str, str] | None = None) -> float:
    """Run ``code`` in a fresh interpreter; it must print one number (seconds)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])
