"""``descentlab course``: build and check every part of the course that exists.

Today that is the reference optimizers, each checked against torch.optim
(which also fills Numba's cache, so the lectures start fast).  The lectures,
the assignments and the demo grading are reported as still to come rather
than faked.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import __version__

#: float64 runs of 300 steps must agree with torch.optim to this (DESIGN.md).
TOLERANCE = 1e-10


def repo_root() -> Path:
    """The checkout that holds lectures/ and solutions/ (the package lives in lib/)."""
    here = Path(__file__).resolve().parents[2]
    for candidate in (Path.cwd(), here):
        if (candidate / "lectures").is_dir() and (candidate / "lib" / "descentlab").is_dir():
            return candidate
    return here


def check_optimizers() -> bool:
    from . import compare, optim

    print("Reference optimizers (descentlab.optim) against torch.optim, float64, 300 steps:")
    t0 = time.perf_counter()
    ok = True
    results = []
    for name in tqdm(optim.TORCH_OPTIMIZERS, desc="optimizers", unit="opt", leave=False):
        results.append(compare.against_torch(name, steps=300, dtype=np.float64))
    for r in results:
        good = r.max_relative_error <= TOLERANCE
        ok &= good
        print(f"  {r.name:9s} max relative difference {r.max_relative_error:.1e}  "
              f"{'ok' if good else f'FAILED (tolerance {TOLERANCE:.0e})'}")
    print(f"  extras: {', '.join(optim.EXTRAS)} (no torch counterpart; checked by the test suite)")
    print(f"  ({time.perf_counter() - t0:.1f} s, including compiling any kernel not yet cached)\n")
    return ok


def report_parts(root: Path) -> None:
    lectures = sorted(p.name for p in (root / "lectures").glob("*.ipynb"))
    assignments = sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir()) \
        if (root / "solutions").is_dir() else []
    print("Other parts of the course:")
    print(f"  lectures       {', '.join(lectures) if lectures else 'none yet (lectures/ is empty)'}")
    print(f"  assignments    {', '.join(assignments) if assignments else 'none yet (solutions/ is empty)'}")
    print("  still to come  schedulers, initializers and layers; loss surfaces and widgets;")
    print("                 nbgrader release, lecture execution and demo grading")


def main() -> int:
    root = repo_root()
    print(f"descentlab {__version__}: building the course in {root}\n")
    ok = check_optimizers()
    report_parts(root)
    if not ok:
        print("\ndescentlab course: the reference disagrees with torch.optim", file=sys.stderr)
        return 1
    return 0
