"""The demo class: realistic submissions, built from the released notebooks.

For each assignment, ``course/demo/answers/<assignment>.py`` defines
``SUBMISSIONS``, a dict from a student's name to a :class:`Submission`: the
code that student wrote in each answer cell, any cells they added or test
cells they tampered with, which test cells their mistakes should fail, and
what the feedback must say.  :func:`build` writes the notebooks into
``course/demo/submitted/<student>/<assignment>/`` in nbgrader's layout, so
the demo stays in step with ``assignments/`` whenever an assignment changes.

Two students need no answers file entry: ``solution`` (the answers from
``solutions/``) and ``blank`` (the release, untouched).
"""

from __future__ import annotations

import csv
import re
import runpy
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .nbconfig import REPO

__all__ = ["Submission", "DEMO", "submissions", "build", "expected_rows", "expected_score",
           "write_expected", "solution_answers", "points"]

DEMO = REPO / "course" / "demo"
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", re.M | re.S)
STUB = re.compile(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)\n?", re.M)


@dataclass
class Submission:
    """One demo student's work on one assignment."""

    note: str
    answers: dict[str, str] = field(default_factory=dict)   # grade_id -> code replacing the stub
    added_cells: list[str] = field(default_factory=list)    # code cells inserted after the imports
    test_edits: dict[str, str | None] = field(default_factory=dict)  # test cell -> new source, or None to delete
    breaks: list[str] = field(default_factory=list)          # test cells that must fail
    mentions: list[str] = field(default_factory=list)        # phrases the feedback must contain
    flags: list[str] = field(default_factory=list)           # flag prefixes the grader must raise


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_answers(assignment: str) -> dict[str, str]:
    """Answer cells' solution code, dedented to the stub's indentation, by grade_id."""
    answers = {}
    for path in sorted((REPO / "solutions" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            meta = _nbgrader(cell)
            if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
                match = SOLUTION.search(cell.source)
                if match:
                    answers[meta["grade_id"]] = match.group(2)
            elif cell.cell_type == "markdown" and meta.get("solution"):
                answers[meta["grade_id"]] = cell.source  # a written answer, graded by hand
    return answers


def submissions(assignment: str) -> dict[str, Submission]:
    path = DEMO / "answers" / f"{assignment}.py"
    listed = runpy.run_path(str(path))["SUBMISSIONS"] if path.exists() else {}
    return {"solution": Submission("the instructor's solutions, submitted as a student would",
                                   answers=solution_answers(assignment)),
            "blank": Submission("the release, submitted untouched", breaks=["*"]),
            **listed}


def _fill(source: str, code: str) -> str:
    match = STUB.search(source)
    if not match:
        raise ValueError("answer cell has no '# YOUR CODE HERE' stub to replace")
    indent = match.group(1)
    body = "".join(indent + line if line.strip() else line
                   for line in code.strip("\n").splitlines(True))
    return source[:match.start()] + body.rstrip("\n") + "\n" + source[match.end():]


def _dedent_solution(code: str) -> str:
    lines = code.splitlines(True)
    width = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    return "".join(l[width:] if l.strip() else l for l in lines)


def build(assignment: str, root: Path = DEMO) -> list[Path]:
    """Write every demo submission of ``assignment``; returns the notebooks written."""
    released = sorted((REPO / "assignments" / assignment).glob("*.ipynb"))
    if not released:
        raise ValueError(f"assignments/{assignment} has no released notebook; "
                         "run `descentlab release` first")
    written = []
    for student, sub in submissions(assignment).items():
        for path in released:
            nb = nbformat.read(str(path), as_version=4)
            released_ids = {cell.get("id") for cell in nb.cells}
            cells = []
            for cell in nb.cells:
                meta = _nbgrader(cell)
                gid = meta.get("grade_id")
                if gid in sub.answers and meta.get("solution"):
                    cell.source = (sub.answers[gid] if cell.cell_type == "markdown"
                                   else _fill(cell.source, _dedent_solution(sub.answers[gid])))
                if gid in sub.test_edits:
                    if sub.test_edits[gid] is None:
                        continue
                    cell.source = sub.test_edits[gid]
                cells.append(cell)
                if gid == "imports":
                    cells += [nbformat.v4.new_code_cell(src.strip("\n")) for src in sub.added_cells]
            for i, cell in enumerate(cells):
                if cell.get("id") not in released_ids:  # cells the student added: stable ids
                    cell["id"] = f"{student}-added-{i:02d}"
            nb.cells = cells
            out = root / "submitted" / student / assignment / path.name
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(out))
            written.append(out)
    return written


def points(assignment: str) -> tuple[dict[str, float], float]:
    """(points of each autograded test cell, total points including hand-graded ones)."""
    tests, total = {}, 0.0
    for path in sorted((REPO / "solutions" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            meta = _nbgrader(cell)
            if meta.get("grade"):
                total += float(meta.get("points", 0))
                if not meta.get("solution"):
                    tests[meta["grade_id"]] = float(meta.get("points", 0))
    return tests, total


def expected_score(assignment: str, submission: Submission) -> tuple[float, float]:
    """What a submission should score: every autograded point but those of the
    test cells it breaks (hand-graded answers count 0 until an instructor grades them)."""
    tests, total = points(assignment)
    if "*" in submission.breaks:
        return 0.0, total
    unknown = sorted(set(submission.breaks) - set(tests))
    if unknown:
        raise ValueError(f"{assignment}: breaks names unknown test cells {unknown}")
    return sum(p for cell, p in tests.items() if cell not in submission.breaks), total


def write_expected(path: Path = DEMO / "expected.csv") -> None:
    """Regenerate expected.csv from the answers files (after editing them)."""
    from .pipeline import assignments

    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["student", "assignment", "score", "max_score"])
        for assignment in assignments():
            for student, sub in sorted(submissions(assignment).items()):
                score, total = expected_score(assignment, sub)
                writer.writerow([student, assignment, f"{score:g}", f"{total:g}"])


def expected_rows(path: Path = DEMO / "expected.csv") -> dict[tuple[str, str], tuple[float, float]]:
    with open(path, newline="") as f:
        return {(r["student"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
                for r in csv.DictReader(f)}
