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

__all__ = ["PartResult", "Verification", "verify_notebook", "test_cells", "part_of",
           "SandboxFailure"]


@dataclass
class PartResult:
    cell: str           # the nbgrader grade_id of the test cell
    points: float
    score: float
    message: str = ""   # the feedback when it failed
    reference: bool = False
    error: str = ""     # why the part could not be verified (it then scores 0)


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


class SandboxFailure(RuntimeError):
    """The student's process never came up: not the student's fault, so grade again."""


def verify_notebook(path: Path | str, assignment: str, cell_timeout: int = 120,
                    jail=None) -> Verification:
    """Re-check every autograded part of the notebook at ``path``.

    Cells run in the notebook's order and each test cell is graded where it
    stands, against the functions bound at that point, as nbgrader's kernel
    sees them.  Any failure to verify a part (a protocol error, a dead or
    silent child, an exception in the checks) scores that part 0, with a
    ``verification-error`` note: verification fails closed.
    """
    nb = nbformat.read(str(path), as_version=4)
    tests = test_cells(nb)
    test_ids = {id(c) for c in tests}
    exercises = {e.function: e for e in of(assignment)}
    result = Verification()
    forbidden = tuple(sorted({f for e in exercises.values() for f in e.forbidden}))
    with StudentProcess(None, forbidden, cell_timeout=cell_timeout,
                        call_timeout=float(cell_timeout), jail=jail) as child:
        if not child.started:
            raise SandboxFailure(child.dead or "the student's process did not start")
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if id(cell) not in test_ids:
                child.run_cell(index, _strip_magics(cell.source))
                continue
            cell_id = _nbgrader(cell).get("grade_id") or ""
            if cell_id in result.parts:
                continue  # a duplicated test cell counts once, as in the gradebook
            points = float(_nbgrader(cell).get("points", 0))
            exercise, part = part_of(cell_id, exercises)
            if exercise is None:
                result.parts[cell_id] = PartResult(cell_id, points, 0.0,
                                                   "no exercise part matches this test cell",
                                                   error="unknown-part")
                result.notes.append(f"{cell_id}: no exercise part matches this test cell")
                continue
            result.parts[cell_id] = _verify_part(child, exercise, part, cell_id, points)
        if child.dead and child.dead != "closed":
            result.notes.append(f"the student's code stopped answering: {child.dead}")
    return result


def _verify_part(child, exercise, part: str, cell_id: str, points: float) -> PartResult:
    before = len(child.protocol_errors)
    fn = child.function(exercise.function)
    try:
        mismatch = (evaluate(exercise, fn, part, hidden=False, in_process=False)
                    or evaluate(exercise, fn, part, hidden=True, in_process=False))
    except Exception as exc:  # noqa: BLE001 - fail closed: an unverifiable part scores 0
        return PartResult(cell_id, points, 0.0,
                          f"{exercise.function}: this part could not be verified "
                          f"({type(exc).__name__}: {str(exc)[:200]}), so it earns no points.",
                          error=type(exc).__name__)
    if len(child.protocol_errors) > before:
        why = child.protocol_errors[-1]
        return PartResult(cell_id, points, 0.0,
                          f"{exercise.function}: this part could not be verified: your function's "
                          f"answer could not be read ({why}), so it earns no points.",
                          error="protocol")
    if mismatch is None:
        return PartResult(cell_id, points, points)
    return PartResult(cell_id, points, 0.0, mismatch.describe(exercise.function),
                      reference=mismatch.problem == "reference")
