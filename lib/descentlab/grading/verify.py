"""Out-of-process verification of an autograded notebook.

nbgrader's score comes from the test cells run inside the student's own
kernel, where the student's code ran first and could have replaced the
checks.  The verifier recomputes every autograded part here, in the trusted
grading process, with the student's functions running in a sandboxed child
process (:mod:`descentlab.grading.sandbox`) that cannot import the
reference.  Its per-part scores are the ones that count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import evaluate
from .assignments import of
from .sandbox import StudentProcess

__all__ = ["PartResult", "Verification", "verify_notebook", "test_cells", "part_of"]


@dataclass
class PartResult:
    cell: str           # the nbgrader grade_id of the test cell
    points: float
    score: float
    message: str = ""   # the feedback when it failed
    reference: bool = False


@dataclass
class Verification:
    parts: dict[str, PartResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # problems with running the notebook at all


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def test_cells(nb) -> list:
    """Autograded test cells: graded, not an answer cell, code."""
    return [c for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("grade")
            and not _nbgrader(c).get("solution")]


def _strip_magics(source: str) -> str:
    # IPython syntax (%matplotlib, !pip) is meaningless outside a kernel
    return "\n".join("pass  # " + line if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def part_of(cell_id: str, exercises: dict) -> tuple:
    """(exercise, part) for a test cell named ``test_<function>_<part>``, else (None, None)."""
    # function names contain underscores too: the longest matching function wins
    for function in sorted(exercises, key=len, reverse=True):
        prefix = f"test_{function}_"
        if cell_id.startswith(prefix) and cell_id[len(prefix):] in exercises[function].parts:
            return exercises[function], cell_id[len(prefix):]
    return None, None


def verify_notebook(path: Path | str, assignment: str, cell_timeout: int = 120) -> Verification:
    nb = nbformat.read(str(path), as_version=4)
    tests = {_nbgrader(c).get("grade_id"): c for c in test_cells(nb)}
    test_ids = {id(c) for c in tests.values()}
    code = [(i, _strip_magics(c.source)) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and id(c) not in test_ids]
    exercises = {e.function: e for e in of(assignment)}
    result = Verification()
    forbidden = tuple(sorted({f for e in exercises.values() for f in e.forbidden}))
    with StudentProcess(code, forbidden, cell_timeout=cell_timeout,
                        call_timeout=float(cell_timeout)) as child:
        if child.dead:
            result.notes.append(f"the notebook's code could not be run: {child.dead}")
        for cell_id, cell in tests.items():
            points = float(_nbgrader(cell).get("points", 0))
            exercise, part = part_of(cell_id or "", exercises)
            if exercise is None:
                result.notes.append(f"{cell_id}: no exercise part matches this test cell")
                continue
            fn = child.function(exercise.function)
            mismatch = (evaluate(exercise, fn, part, hidden=False, in_process=False)
                        or evaluate(exercise, fn, part, hidden=True, in_process=False))
            if mismatch is None:
                result.parts[cell_id] = PartResult(cell_id, points, points)
            else:
                result.parts[cell_id] = PartResult(
                    cell_id, points, 0.0, mismatch.describe(exercise.function),
                    reference=mismatch.problem == "reference")
        if child.dead and not result.notes:
            result.notes.append(f"the student's code stopped answering: {child.dead}")
    return result
