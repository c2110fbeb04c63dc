"""``descentlab course``: build and check the whole course, as ``make course`` does.

1. check the reference optimizers against torch.optim (and fill Numba's cache);
2. release: generate ``assignments/`` from ``solutions/`` and rebuild the demo
   class from it;
3. grade the demo class in ``course/demo`` (a progress bar naming each
   submission), print the gradebook, one line per flagged submission and
   what the flags mean, and write ``out/grades.csv``;
4. from the start, beside steps 1-3, execute every lecture headless (a second
   progress bar), and print their timing table;
5. say where everything went, and fail if a lecture failed or a demo score differs from
   ``course/demo/expected.csv``.
"""

from __future__ import annotations

import sys
import textwrap
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


def _lecture_table(runs) -> bool:
    from .notebooks import table

    if not runs:
        print("   (no lectures yet)")
        return True
    print("   " + table(runs).replace("\n", "\n   "))
    return all(r.ok for r in runs)


def lectures_alongside():
    """Start executing the lectures in the background; a future of their runs.

    One lecture kernel mostly keeps one core busy, and grading keeps its
    workers busy, with gaps while nbgrader writes, so running the two
    together takes the machine's otherwise idle time (on 2 cores the whole
    job takes about a minute less than one after the other).
    """
    from concurrent.futures import ThreadPoolExecutor

    from .notebooks import LECTURES, execute

    notebooks = sorted(LECTURES.glob("[0-9]*.ipynb"))
    bar = tqdm(total=len(notebooks), desc="lectures", unit="nb", position=1, leave=False,
               mininterval=0, miniters=1)

    def run_all():
        runs = []
        for path in notebooks:
            bar.set_postfix_str(path.name, refresh=False)
            runs.append(execute(path, keep=REPO / "out" / "lectures"))
            bar.update()
        bar.close()
        return runs

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lectures")
    future = pool.submit(run_all)
    pool.shutdown(wait=False)
    return future


#: what each kind of flag on a graded submission means, for the instructor
FLAG_MEANINGS = {
    "needs-manual-grading": "a written answer waits for you in the Formgrader",
    "lowered": "the out-of-process re-check failed a part nbgrader's run passed",
    "raised": "the out-of-process re-check passed a part nbgrader's run failed",
    "reference-call": "the answer calls descentlab's or torch's implementation: no credit",
    "note": "the re-check left a note in the feedback",
    "autograde-failed": "nbgrader could not run the notebook",
    "duplicate-cell": "the cell with this grade_id appears twice, most likely copied and "
                      "pasted: nbgrader cannot grade the notebook (grade it by hand, or the "
                      "student deletes the copy or restores the cell from the released "
                      "notebook and resubmits, as the feedback says)",
    "symlink-skipped": "a symbolic link (or special file) in the submission was not followed "
                       "nor graded",
    "verification-failed": "the out-of-process re-check could not run",
    "feedback-failed": "no feedback could be written",
    "grading-crashed": "the grader itself failed on this submission",
}


def _flag_lines(rows) -> list[str]:
    """One line per flagged submission, then what the kinds of flag mean."""
    flagged = [r for r in sorted(rows, key=lambda r: (r.student, r.assignment)) if r.flags]
    if not flagged:
        return []
    width = max(len(f"{r.student} / {r.assignment}") for r in flagged)
    lines = ["flags (one line per submission):"]
    lines += [f"  {f'{r.student} / {r.assignment}':<{width}}  {', '.join(r.flags)}" for r in flagged]
    kinds = sorted({f.split(":")[0] for r in flagged for f in r.flags})
    lines.append("meaning:")
    lines += [f"  {k:<20} {FLAG_MEANINGS.get(k, '')}" for k in kinds]
    return lines


def _hand_graded_line(names: list[str]) -> str:
    from .grading import demo

    manual = {}
    for name in names:
        tests, total = demo.points(name)
        manual[name] = total - sum(tests.values())
    if not any(manual.values()):
        return ""
    points = sorted(set(manual.values()))
    each = f"{points[0]:g} points" if len(points) == 1 else "some points"
    return (f"The solution scores {each} short of full marks in each assignment: those are "
            "the written question, graded by hand (`make lab`, Nbgrader > Formgrader > "
            "Manual Grading); autograding gives it 0 until you grade it.")


def grade_demo(workers: int, course: Path | None = None, grades: Path | None = None,
               step: int = 4, alongside: str = "") -> bool:
    from .bench import table
    from .grading import demo
    from .grading.pipeline import assignments, grade_many, students_of

    course = course or demo.DEMO
    print(f"\n{step}. Grading the demo class in {_short(course)} ({workers} worker{'s' * (workers > 1)}"
          f"{', ' + alongside if alongside else ''})")
    expected = demo.expected_rows()
    names = assignments()
    total = sum(len(students_of(course, name)) for name in names)
    # one refresh per submission: each takes seconds, so no rate limit is needed
    with tqdm(total=total, desc="grading", unit="submission", leave=False, mininterval=0,
              miniters=1) as bar:
        def show(row):
            bar.set_postfix_str(f"{row.assignment} / {row.student} "
                                f"{row.score:g}/{row.max_score:g}", refresh=False)
            bar.update()
        bar.set_postfix_str("starting ...")
        # one stream of work over all the assignments: no worker waits between two of them
        rows = grade_many(names, course, workers=workers, progress=show)
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
    missing = sorted(set(expected) - set(by)) if course == demo.DEMO else []
    ok &= not missing
    print("   " + table(["student"] + names, lines).replace("\n", "\n   "))
    hand = _hand_graded_line(names)
    if hand:
        print(textwrap.indent(textwrap.fill(hand, 86), "   "))
    for line in _flag_lines(rows):
        print("   " + line)
    print(f"   {len(rows)} submissions in {sum(r.seconds for r in rows):.0f} s of grading")
    if grades is not None:
        _write_grades(grades, rows)
    if missing:
        print(f"   MISSING from the run: {missing}")
    return ok


def _write_grades(path: Path, rows) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["student", "assignment", "score", "max_score", "flags"])
        for row in sorted(rows, key=lambda r: (r.student, r.assignment)):
            writer.writerow(row.csv())


def _short(path: Path) -> str:
    path = Path(path)
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def summary() -> str:
    """Where `descentlab course` put everything."""
    from .grading import demo

    rows = [("executed lectures", "out/lectures/", "open them in JupyterLab or any viewer"),
            ("student versions", "assignments/", "committed; regenerated from solutions/"),
            ("feedback", f"{_short(demo.DEMO)}/feedback/", "<student>/<assignment>/*.html"),
            ("gradebook", f"{_short(demo.DEMO)}/gradebook.db",
             "nbgrader's; `make lab` shows it in the Formgrader"),
            ("grades", "out/grades.csv", "student,assignment,score,max_score,flags")]
    width, path_width = (max(len(r[i]) for r in rows) for i in (0, 1))
    return "\n".join(["Where everything went:"] + [
        f"   {what:<{width}}  {path:<{path_width}}  {note}" for what, path, note in rows])


def main(workers: int = 2) -> int:
    print(f"descentlab {__version__}: building the course in {REPO}\n")
    started = time.perf_counter()
    # the lectures need nothing from the steps below: they take the core the checks leave idle
    lectures = lectures_alongside()
    results = {"optimizers": check_optimizers()}
    release_all()
    results["demo grades"] = grade_demo(workers, grades=REPO / "out" / "grades.csv",
                                        step=3, alongside="while the lectures execute")
    print("\n4. Lectures, executed headless alongside steps 1-3")
    results["lectures"] = _lecture_table(lectures.result())
    print(f"\n{summary()}")
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    failed = [k for k, ok in results.items() if not ok]
    if failed:
        print(f"descentlab course: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
