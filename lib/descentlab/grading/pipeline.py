"""The nbgrader pipeline: release, autograde, verify, feedback, gradebook.

``release`` turns ``solutions/`` into ``assignments/``.  ``grade`` takes every
submission of one assignment under ``<course>/submitted`` through:

1. ``nbgrader autograde`` (students' tests cells restored, notebook executed,
   scores into the gradebook);
2. out-of-process verification (:mod:`descentlab.grading.verify`), whose
   per-part scores replace nbgrader's in the gradebook where they differ;
3. ``nbgrader generate_feedback``, with a note on top when verification
   changed anything.

A broken submission (unreadable notebook, crash, timeout) is graded as far as
it goes, flagged, and the pipeline goes on.  Everything lives in the course
folder and the SQLite gradebook, so an interrupted run is simply run again.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from .nbconfig import CELL_TIMEOUT, REPO, config

__all__ = ["release", "grade", "Row", "students_of", "assignments"]


@dataclass
class Row:
    student: str
    assignment: str
    score: float
    max_score: float
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per pipeline phase

    def csv(self) -> list[str]:
        return [self.student, self.assignment, f"{self.score:g}", f"{self.max_score:g}",
                ";".join(self.flags)]


def _quiet():
    """nbgrader and SQLAlchemy talk a lot; the CSV on stdout must stay clean."""
    warnings.filterwarnings("ignore")
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    # nbgrader shells out to alembic: the venv's bin/ must be on PATH
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def _api(root: Path, **kwargs):
    _quiet()
    from nbgrader.apps import NbGraderAPI

    with contextlib.redirect_stdout(io.StringIO()):
        return NbGraderAPI(config=config(root, **kwargs))


def _run(result: dict, what: str) -> None:
    if not result.get("success"):
        raise RuntimeError(f"nbgrader {what} failed:\n{result.get('error') or result.get('log')}")


def assignments(source: Path = REPO / "solutions") -> list[str]:
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def release(names: list[str] | None = None, *, source: Path = REPO / "solutions",
            release_dir: Path = REPO / "assignments", root: Path = REPO / "course") -> list[Path]:
    """Generate the student versions of ``names`` (default: all) into ``release_dir``."""
    names = names or assignments(source)
    unknown = sorted(set(names) - set(assignments(source)))
    if unknown:
        raise ValueError(f"ASSIGNMENT must be among {assignments(source)}, got {unknown}")
    root.mkdir(parents=True, exist_ok=True)
    api = _api(root, source=source, release=release_dir)
    written = []
    for name in names:
        _run(api.generate_assignment(name, force=True, create=True), f"generate_assignment {name}")
        written += sorted((release_dir / name).glob("*.ipynb"))
    return written


def students_of(course: Path, assignment: str) -> list[str]:
    submitted = course / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())


def _prepare(course: Path, assignment: str) -> None:
    """Make sure the gradebook knows the assignment as it stands in solutions/."""
    course.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        api = _api(course, release=Path(scratch))
        _run(api.generate_assignment(assignment, force=True, create=True),
             f"generate_assignment {assignment}")


def _autograded_test(grade) -> bool:
    """A grade for an autograded test cell (code, graded, not an answer cell)."""
    answers = {c.name for c in grade.cell.notebook.solution_cells}
    return grade.cell.cell_type == "code" and grade.name not in answers


def _apply_verification(course: Path, assignment: str, student: str, verification) -> list[str]:
    """Write the verified scores.  Fails closed: an autograded test the verification did not
    score (or could not verify) gets 0, and nothing keeps extra credit it did not earn."""
    from nbgrader.api import Gradebook

    flags = []
    cfg = config(course)
    with Gradebook(cfg.CourseDirectory.db_url, "descentlab") as gb:
        submission = gb.find_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if not _autograded_test(grade):
                    continue
                # extra credit on an autograded cell only ever came from outside the grader
                grade.extra_credit = None
                part = verification.parts.get(grade.name)
                if part is None:
                    from .verify import PartResult

                    part = verification.parts[grade.name] = PartResult(
                        grade.name, grade.max_score, 0.0,
                        "this part could not be verified, so it earns no points",
                        error="unverified")
                if part.error:
                    flags.append(f"verification-error:{grade.name}")
                nbgrader_score = grade.auto_score or 0.0
                if abs(nbgrader_score - part.score) > 1e-9:
                    grade.manual_score = part.score
                    flags.append(f"{'lowered' if part.score < nbgrader_score else 'raised'}:"
                                 f"{grade.name}")
                else:
                    grade.manual_score = None
                # the verified score is final: this is not a cell for the instructor to grade
                grade.needs_manual_grade = False
                if part.reference:
                    flags.append(f"reference-call:{grade.name}")
        gb.db.commit()
    return flags


def _annotate(notebook: Path, verification, flags: list[str]) -> None:
    """Put the verifier's findings on top of the autograded notebook (and so the feedback)."""
    import nbformat

    if not flags and not verification.notes:
        return
    nb = nbformat.read(str(notebook), as_version=4)
    lines = ["**Grader's note.** Your functions were re-checked outside your notebook "
             "(a fresh process, without the reference implementation)."]
    for flag in flags:
        kind, cell = flag.split(":", 1)
        part = verification.parts.get(cell)
        if part is None:
            continue
        verdict = "passes" if part.score == part.points else "does not pass"
        lines.append(f"- `{cell}` {verdict} there ({part.score:g} of {part.points:g} points)"
                     + (f":\n\n  ```\n  {part.message.replace(chr(10), chr(10) + '  ')}\n  ```"
                        if part.message else "."))
    lines += [f"- {note}" for note in verification.notes]
    note = nbformat.v4.new_markdown_cell("\n".join(lines))
    note["id"] = "graders-note"
    nb.cells.insert(0, note)
    mode = notebook.stat().st_mode
    notebook.chmod(mode | 0o200)  # nbgrader leaves autograded notebooks read-only
    nbformat.write(nb, str(notebook))
    notebook.chmod(mode)


def _failed_verification(why: str):
    from .verify import Verification

    return Verification(notes=[f"verification failed: {why}; every autograded part of this "
                               "notebook scores 0 until it is graded again"])


def _verify(notebook: Path, assignment: str, cell_timeout: int, jail, flags: list[str]):
    """The verification of one notebook; a sandbox that failed to start is retried once."""
    from .verify import SandboxFailure, verify_notebook

    for attempt in (1, 2):
        try:
            return verify_notebook(notebook, assignment, cell_timeout=cell_timeout, jail=jail)
        except SandboxFailure as exc:  # not the student's doing: try again before scoring
            if attempt == 2:
                flags.append("verification-failed:sandbox")
                return _failed_verification(str(exc))
        except Exception as exc:  # noqa: BLE001 - fail closed, keep grading the class
            flags.append(f"verification-failed:{type(exc).__name__}")
            return _failed_verification(f"{type(exc).__name__}: {str(exc)[:200]}")


def _code_cells(course: Path, assignment: str, student: str) -> int:
    """How many code cells the submission and the source have, whichever is more."""
    import nbformat

    count = 0
    for folder in (course / "submitted" / student / assignment, REPO / "solutions" / assignment):
        for path in folder.glob("*.ipynb"):
            try:
                count = max(count, sum(c.cell_type == "code" for c in
                                       nbformat.read(str(path), as_version=4).cells))
            except Exception:  # noqa: BLE001 - nbgrader reports unreadable notebooks itself
                continue
    return count


def grade_one(course: Path, assignment: str, student: str, cell_timeout: int = CELL_TIMEOUT,
              jail=None) -> Row:
    """Autograde, verify and give feedback to one submission."""
    from nbgrader.api import Gradebook

    started = time.perf_counter()
    phases: dict[str, float] = {}
    flags: list[str] = []
    api = _api(course, cell_timeout=cell_timeout, sandboxed=jail is not None)
    if jail is not None:
        from .jail import BUDGET_ENV

        os.environ[BUDGET_ENV] = str(cell_timeout * (_code_cells(course, assignment, student) + 2)
                                     + 60)
    result = api.autograde(assignment, student, force=True, create=True)
    phases["autograde"] = time.perf_counter() - started
    autograded = course / "autograded" / student / assignment
    notebooks = sorted(autograded.glob("*.ipynb")) if result.get("success") else []
    if not result.get("success"):
        flags.append("autograde-failed")
    mark = time.perf_counter()
    for notebook in notebooks:
        verification = _verify(notebook, assignment, cell_timeout, jail, flags)
        changes = _apply_verification(course, assignment, student, verification)
        flags += changes
        flags += [f"note:{n.split(':')[0]}" for n in verification.notes]
        _annotate(notebook, verification, [f for f in changes if not f.startswith("reference")])
    phases["verify"] = time.perf_counter() - mark
    mark = time.perf_counter()
    if notebooks and not api.generate_feedback(assignment, student, force=True).get("success"):
        flags.append("feedback-failed")
    phases["feedback"] = time.perf_counter() - mark

    cfg = config(course)
    with Gradebook(cfg.CourseDirectory.db_url, "descentlab") as gb:
        try:
            submission = gb.find_submission(assignment, student)
            score, max_score = submission.score, submission.max_score
            manual = sum(g.max_score for nb in submission.notebooks for g in nb.grades
                         if g.needs_manual_grade)
            if manual:
                flags.append(f"needs-manual-grading:{manual:g}")
        except Exception:  # noqa: BLE001 - no submission row: autograde never got that far
            score, max_score = 0.0, gb.find_assignment(assignment).max_score
    return Row(student, assignment, score, max_score, flags, time.perf_counter() - started, phases)


def _grade_one_quietly(args) -> Row:
    course, assignment, student, cell_timeout, jail_root = args
    _quiet()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            jail = None
            if jail_root:
                from .jail import JAIL_ENV, Jail

                os.environ[JAIL_ENV] = jail_root
                jail = Jail(jail_root)
            return grade_one(course, assignment, student, cell_timeout, jail)
    except Exception as exc:  # noqa: BLE001 - report, keep grading the others
        return Row(student, assignment, 0.0, 0.0, [f"grading-crashed:{type(exc).__name__}"])


class SandboxUnavailable(RuntimeError):
    """No sandbox here, and grading without one was not asked for."""


def grade(assignment: str, course: Path, *, workers: int = 1, cell_timeout: int = CELL_TIMEOUT,
          progress=None, sandbox: bool = True) -> list[Row]:
    """Grade every submission of ``assignment`` under ``course/submitted``.

    Student code (nbgrader's kernel and the verification child) runs in
    bubblewrap (:mod:`descentlab.grading.jail`); ``sandbox=False`` is the
    ``--unsafe-no-sandbox`` escape hatch.  The gradebook is backed up, and
    refused if it holds triggers or a schema nbgrader did not make.
    """
    course = Path(course).resolve()
    if assignment not in assignments():
        raise ValueError(f"ASSIGNMENT must be one of {assignments()}, got {assignment!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if cell_timeout < 1:
        raise ValueError(f"cell_timeout must be >= 1 second, got {cell_timeout}")
    jail = None
    if sandbox:
        from .jail import Jail, unavailable

        reason = unavailable()
        if reason:
            raise SandboxUnavailable(f"refusing to grade without a sandbox: {reason}. Student code "
                                     "would run with the grader's rights; pass "
                                     "--unsafe-no-sandbox to grade anyway")
        jail = Jail()
    from .gradebook import backup, check_integrity

    try:
        backup(course)
        check_integrity(course)
        with contextlib.redirect_stdout(io.StringIO()):
            _prepare(course, assignment)
        jobs = [(course, assignment, s, cell_timeout, str(jail.root) if jail else "")
                for s in students_of(course, assignment)]
        if jail is not None and len(jobs) > 1:
            # one trusted run of the instructor's notebook compiles the reference kernels
            # that every student's kernel would otherwise compile from cold
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                for source in sorted((REPO / "solutions" / assignment).glob("*.ipynb"))[:1]:
                    jail.warm(source, cell_timeout)
        rows = []
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                rows.append(_grade_one_quietly(job))
                if progress:
                    progress(rows[-1])
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                for row in pool.map(_grade_one_quietly, jobs):
                    rows.append(row)
                    if progress:
                        progress(row)
        check_integrity(course)
        return rows
    finally:
        if jail is not None:
            jail.cleanup()


def clean(course: Path) -> None:
    """Remove nbgrader's runtime folders and gradebook (submissions are kept)."""
    for name in ("autograded", "feedback"):
        shutil.rmtree(course / name, ignore_errors=True)
    for db in course.glob("gradebook.db*"):
        db.unlink()
