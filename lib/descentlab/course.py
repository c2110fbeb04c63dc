"""``descentlab course``: build and check the whole course, as ``make course`` does.

1. check the reference optimizers against torch.optim (and fill Numba's cache);
2. release: generate ``assignments/`` from ``solutions/`` and rebuild the demo
   class from it;
3. execute every lecture headless, with a progress bar and a timing table;
4. grade the demo class in ``course/demo`` and print the gradebook;
5. fail if a lecture failed or a demo score differs from
   ``course/demo/expected.csv``.
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
REPO = Path(__file__).resolve().parents[2]


def check_optimizers() -> bool:
    from . import compare, optim

    print("1. Reference optimizers against torch.optim (float64, 300 steps)")
    results = [compare.against_torch(name, steps=300, dtype=np.float64)
               for name in tqdm(optim.TORCH_OPTIMIZERS, desc="optimizers", leave=False)]
    ok = True
    for r in results:
        good = r.max_relative_error <= TOLERANCE
        ok &= good
        print(f"   {r.name:9s} max relative difference {r.max_relative_error:.1e}  "
              f"{'ok' if good else f'FAILED (tolerance {TOLERANCE:.0e})'}")
    return ok


def release_all() -> None:
    from .grading import demo
    from .grading.pipeline import assignments, release

    print("\n2. Release: solutions/ -> assignments/, and the demo class")
    started = time.perf_counter()
    names = assignments()
    for name in tqdm(names, desc="release", leave=False):
        release([name])
        demo.build(name)
    print(f"   {len(names)} assignments released ({', '.join(names)}) "
          f"in {time.perf_counter() - started:.1f} s")


def run_lectures() -> bool:
    from .notebooks import LECTURES, execute_all, table

    print("\n3. Lectures, executed headless")
    runs = execute_all(LECTURES, keep=REPO / "out" / "lectures")
    if not runs:
        print("   (no lectures yet)")
        return True
    print("   " + table(runs).replace("\n", "\n   "))
    return all(r.ok for r in runs)


def grade_demo(workers: int, course: Path | None = None) -> bool:
    from .bench import table
    from .grading import demo
    from .grading.pipeline import assignments, grade

    course = course or demo.DEMO
    print(f"\n4. Grading the demo class in course/demo ({workers} worker{'s' * (workers > 1)})")
    expected = demo.expected_rows()
    rows = []
    for name in tqdm(assignments(), desc="grading", leave=False):
        rows += grade(name, course, workers=workers)
    names = sorted({r.assignment for r in rows})
    by = {(r.student, r.assignment): r for r in rows}
    lines, ok = [], True
    for student in sorted({r.student for r in rows}):
        cells = []
        for name in names:
            row = by.get((student, name))
            if row is None:
                cells.append("")
                continue
            want = expected.get((student, name))
            good = want == (row.score, row.max_score)
            ok &= good
            cells.append(f"{row.score:g}/{row.max_score:g}"
                         + ("" if good else f" (expected {want[0]:g})" if want else " (unexpected)"))
        lines.append([student] + cells)
    missing = sorted(set(expected) - set(by))
    ok &= not missing
    print("   " + table(["student"] + names, lines).replace("\n", "\n   "))
    flagged = [r for r in rows if r.flags]
    if flagged:
        print("   flags: " + "; ".join(f"{r.student}/{r.assignment}: {','.join(r.flags)}"
                                       for r in flagged))
    print(f"   {len(rows)} submissions in {sum(r.seconds for r in rows):.0f} s of grading; "
          f"feedback in course/demo/feedback/")
    if missing:
        print(f"   MISSING from the run: {missing}")
    return ok


def main(workers: int = 2) -> int:
    print(f"descentlab {__version__}: building the course in {REPO}\n")
    started = time.perf_counter()
    results = {"optimizers": check_optimizers()}
    release_all()
    results["lectures"] = run_lectures()
    results["demo grades"] = grade_demo(workers)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    failed = [k for k, ok in results.items() if not ok]
    if failed:
        print(f"descentlab course: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
