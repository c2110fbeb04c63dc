"""The ``descentlab`` command.

    descentlab course                 the main job (``make course``)
    descentlab bench optim            benchmarks against peers
    descentlab release / lectures / grade   (arrive with later parts of the course)
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .bench import SUITES

# Parts of `descentlab course` that are not built yet, and the issue that builds them.
TO_COME = {
    "release": "nbgrader release of solutions/ into assignments/ (assignments issue)",
    "lectures": "headless execution of lectures/ (lectures issue)",
    "grade": "autograding of course/submitted (assignments issue)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="descentlab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"descentlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("course", help="the main job: build and check every part of the course")

    bench = sub.add_parser("bench", help="benchmarks against peers measured in the same run")
    suites = bench.add_subparsers(dest="suite", required=True, metavar="SUITE")
    for name, module in SUITES.items():
        mod = importlib.import_module(module)
        mod.add_arguments(suites.add_parser(name, help=mod.__doc__.split("\n")[0].strip("`")))

    for name, what in TO_COME.items():
        p = sub.add_parser(name, help=f"not built yet: {what}")
        p.add_argument("args", nargs="*")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "course":
        from .course import main as course_main
        return course_main()
    if args.command == "bench":
        return importlib.import_module(SUITES[args.suite]).main(args)
    print(f"descentlab {args.command}: not built yet: {TO_COME[args.command]}.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
