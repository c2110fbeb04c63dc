"""``descentlab bench grading``: seconds per submission, and a class graded
sequentially versus by parallel worker processes.

The class is made of copies of the demo submissions of one assignment
(correct, blank, mistaken and cheating notebooks alike), graded through the
whole pipeline: nbgrader autograde, out-of-process verification, feedback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from . import table

TARGET_SECONDS = 8.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", default="ps3_adaptive",
                        help="whose demo submissions make up the class (default: ps3_adaptive)")
    parser.add_argument("--students", type=int, default=30, help="class size (default: 30)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="parallel worker processes (default: one per core)")
    parser.add_argument("--sandbox-cost", action="store_true",
                        help="also grade the class without the sandbox (--unsafe-no-sandbox) "
                             "and print what the sandbox costs per submission")


def make_class(course: Path, assignment: str, students: int) -> None:
    from ..grading import demo

    personas = sorted((demo.DEMO / "submitted").glob(f"*/{assignment}"))
    if not personas:
        raise ValueError(f"--assignment: course/demo has no submissions of {assignment!r}")
    for i in range(students):
        source = personas[i % len(personas)]
        shutil.copytree(source, course / "submitted" / f"s{i + 1:02d}-{source.parent.name}" / assignment)


def main(args: argparse.Namespace) -> int:
    from ..grading.pipeline import grade

    if args.students < 1 or args.workers < 1:
        raise ValueError(f"--students and --workers must be >= 1, got {args.students}, {args.workers}")
    print(f"descentlab bench grading: a class of {args.students} {args.assignment} submissions "
          f"(copies of the demo class), {os.cpu_count()} cores\n")
    results = {}
    for workers in (1, args.workers):
        with tempfile.TemporaryDirectory() as scratch:
            course = Path(scratch)
            make_class(course, args.assignment, args.students)
            started = time.perf_counter()
            rows = grade(args.assignment, course, workers=workers)
            results[workers] = (time.perf_counter() - started, rows)
    unsandboxed = None
    if args.sandbox_cost:
        with tempfile.TemporaryDirectory() as scratch:
            course = Path(scratch)
            make_class(course, args.assignment, args.students)
            started = time.perf_counter()
            bare = grade(args.assignment, course, workers=args.workers, sandbox=False)
            unsandboxed = (time.perf_counter() - started, bare)
    sequential, rows = results[1]
    phases = {k: statistics.median(r.phases.get(k, 0.0) for r in rows)
              for k in ("autograde", "verify", "feedback")}
    per = statistics.median(r.seconds for r in rows)
    print(table(["one submission (median)", "seconds"],
                [[f"{k}", f"{v:.2f}"] for k, v in phases.items()]
                + [["total", f"{per:.2f}  (target <= {TARGET_SECONDS:g} s)"]]))
    print()
    lines = []
    for workers, (seconds, _) in results.items():
        lines.append([f"{workers} worker{'s' * (workers > 1)}", f"{seconds:.1f} s",
                      f"{seconds / args.students:.2f} s", f"{sequential / seconds:.2f}x"])
    print(table(["whole class", "wall time", "per submission", "speed-up"], lines))
    scores = {w: sorted((r.student, r.score) for r in rs) for w, (_, rs) in results.items()}
    if unsandboxed is not None:
        boxed = results[args.workers][0]
        bare_seconds, bare_rows = unsandboxed
        print()
        print(table(["sandbox cost", f"{args.workers} workers, wall", "per submission"],
                    [["sandboxed (bubblewrap)", f"{boxed:.1f} s", f"{boxed / args.students:.2f} s"],
                     ["--unsafe-no-sandbox", f"{bare_seconds:.1f} s",
                      f"{bare_seconds / args.students:.2f} s"],
                     ["cost of the sandbox", f"{boxed - bare_seconds:+.1f} s",
                      f"{(boxed - bare_seconds) / args.students:+.2f} s "
                      f"({boxed / bare_seconds:.2f}x)"]]))
        scores["unsandboxed"] = sorted((r.student, r.score) for r in bare_rows)
    if len(set(map(tuple, scores.values()))) != 1:
        print("\nWARNING: the runs disagree on the scores")
        return 1
    return 0
