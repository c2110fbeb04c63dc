"""The ``descentlab`` command.

    descentlab course                 the main job (``make course``)
    descentlab bench optim            benchmarks against peers
    descentlab lab                    JupyterLab on a working copy (``make lab``)
    descentlab release / lectures / grade
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from . import __version__
from .bench import SUITES

# Parts of `descentlab course` that are not built yet, and the issue that builds them.
TO_COME: dict[str, str] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="descentlab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"descentlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crs = sub.add_parser("course", help="the main job: build and check every part of the course")
    crs.add_argument("--workers", type=int, default=2,
                     help="grade this many demo submissions at once (default: 2)")

    lec = sub.add_parser("lectures", help="execute every lecture headless and time it")
    lec.add_argument("--keep", type=Path, default=None,
                     help="write the executed notebooks into this folder")
    lec.add_argument("--folder", type=Path, default=None,
                     help="run the notebooks in this folder instead of lectures/")

    bench = sub.add_parser("bench", help="benchmarks against peers measured in the same run")
    suites = bench.add_subparsers(dest="suite", required=True, metavar="SUITE")
    for name, module in SUITES.items():
        mod = importlib.import_module(module)
        mod.add_arguments(suites.add_parser(name, help=mod.__doc__.split("\n")[0].strip("`")))

    rel = sub.add_parser("release", help="generate assignments/ from solutions/ (nbgrader)")
    rel.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                     help="assignment folders in solutions/ (default: all)")

    grd = sub.add_parser("grade", help="autograde, verify and give feedback to every submission")
    grd.add_argument("assignment", metavar="ASSIGNMENT")
    grd.add_argument("--course", type=Path, default=None,
                     help="course root holding submitted/ (default: course/ in the repository)")
    grd.add_argument("--workers", type=int, default=1,
                     help="grade this many submissions at once (default: 1)")
    grd.add_argument("--cell-timeout", type=int, default=120,
                     help="seconds one notebook cell may run (default: 120)")
    grd.add_argument("--unsafe-no-sandbox", action="store_true",
                     help="grade even where bubblewrap cannot sandbox student code: their "
                          "notebooks then run with the grader's rights (see course/INTEGRITY.md)")

    lab = sub.add_parser("lab", help="JupyterLab on a working copy of the course (make lab)",
                         description="Prepare work/ (copies of lectures/ and assignments/, the "
                         "graded demo class, nbgrader's config) and start JupyterLab there. "
                         "Unknown options are passed on to `jupyter lab`.")
    lab.add_argument("--role", choices=("instructor", "student"), default="instructor",
                     help="instructor (default): Formgrader and Create Assignment too; "
                          "student: Assignment List and Validate only")
    lab.add_argument("--port", type=int, default=None, help="port to serve on")
    lab.add_argument("--ip", default=None, help="address to listen on")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--work", type=Path, default=None,
                     help="the working copy (default: work/ in the repository)")
    lab.add_argument("--demo", type=Path, default=None,
                     help="the graded demo class to copy (default: course/demo)")
    lab.add_argument("--prepare-only", action="store_true",
                     help="prepare the working copy, print the command, start nothing")

    for name, what in TO_COME.items():
        p = sub.add_parser(name, help=f"not built yet: {what}")
        p.add_argument("args", nargs="*")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "lab":
        from .lab import main as lab_main
        return lab_main(work=args.work, role=args.role, port=args.port, ip=args.ip,
                        no_browser=args.no_browser, prepare_only=args.prepare_only,
                        demo=args.demo, extra=extra)
    if args.command == "course":
        from .course import main as course_main
        return course_main(workers=args.workers)
    if args.command == "lectures":
        from .notebooks import LECTURES, execute_all, table
        runs = execute_all(args.folder or LECTURES, keep=args.keep)
        print(table(runs) if runs else f"no notebooks in {args.folder or LECTURES}")
        return 0 if all(r.ok for r in runs) else 1
    if args.command == "bench":
        return importlib.import_module(SUITES[args.suite]).main(args)
    if args.command == "release":
        return release_command(args.assignments)
    if args.command == "grade":
        return grade_command(args.assignment, args.course, args.workers, args.cell_timeout,
                             sandbox=not args.unsafe_no_sandbox)
    print(f"descentlab {args.command}: not built yet: {TO_COME[args.command]}.", file=sys.stderr)
    return 2


def release_command(names: list[str]) -> int:
    from .grading.pipeline import release

    try:
        written = release(names or None)
    except ValueError as exc:
        print(f"descentlab release: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return 0


def grade_command(assignment: str, course: Path | None, workers: int, cell_timeout: int,
                  sandbox: bool = True) -> int:
    import csv

    from .grading.nbconfig import REPO
    from .grading.gradebook import GradebookTampered
    from .grading.pipeline import SandboxUnavailable, grade

    course = course or REPO / "course"
    try:
        rows = grade(assignment, course, workers=workers, cell_timeout=cell_timeout, sandbox=sandbox,
                     progress=lambda r: print(f"graded {r.student}: {r.score:g}/{r.max_score:g} "
                                              f"({r.seconds:.1f} s)", file=sys.stderr))
    except (ValueError, SandboxUnavailable, GradebookTampered) as exc:
        print(f"descentlab grade: {exc}", file=sys.stderr)
        return 2
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["student", "assignment", "score", "max_score", "flags"])
    for row in rows:
        writer.writerow(row.csv())
    return 0


if __name__ == "__main__":
    sys.exit(main())
