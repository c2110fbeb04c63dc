"""The nbgrader pipeline: release, autograde, verify, feedback, gradebook.

``release`` turns ``solutions/`` into ``assignments/``.  ``grade`` takes every
submission of one assignment under ``<course>/submitted`` through:

0. every submission is copied into a grader-private folder before any student
   code runs (:func:`private_copies`), and graded from there, so nothing done
   to ``submitted/`` during the run (by a kernel or anyone) changes a grade;
1. ``nbgrader autograde`` (students' tests cells restored, notebook executed,
   scores into the gradebook);
2. out-of-process verification (:mod:`descentlab.grading.verify`), whose
   per-part scores replace nbgrader's in the gradebook where they differ;
3. ``nbgrader generate_feedback``, with a note on top when verification
   changed anything.

A broken submission (unreadable notebook, crash, timeout) is graded as far as
it goes, flagged, and the pipeline goes on.  Everything lives in the course
folder and the SQLite gradebook, so an interrupted run is simply run again
(the private copies are made afresh each run; a killed run's are removed).
"""

from __future__ import annotations

import contextlib
import html
import io
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from .nbconfig import CELL_TIMEOUT, REPO, config

__all__ = ["release", "grade", "grade_many", "Row", "students_of", "assignments"]


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


def _api(root: Path, submitted: str | None = None, **kwargs):
    _quiet()
    from nbgrader.apps import NbGraderAPI

    cfg = config(root, **kwargs)
    if submitted:
        # relative to the course root: nbgrader builds its path regexps from it
        cfg.CourseDirectory.submitted_directory = submitted
    with contextlib.redirect_stdout(io.StringIO()):
        return NbGraderAPI(config=cfg)


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


# -- private copies of the submissions ------------------------------------------------------

#: the grader's own folder in the course root; each run copies the class into run-<pid>-*/
PRIVATE = ".grading"
#: flags naming a student's file (a name the student chose) keep only these characters
_SAFE = re.compile(r"[^A-Za-z0-9._/-]")


def _safe(name: str, limit: int = 60) -> str:
    """A student-chosen name, fit for a flag (the CSV's ``;``-separated field)."""
    name = _SAFE.sub("?", name)
    return name if len(name) <= limit else name[:limit - 3] + "..."


def _copy_file(source: str, target: Path) -> bool:
    """Copy a regular file without following a link; False when it is not one (any more)."""
    try:
        # O_NOFOLLOW: a file swapped for a link is refused; O_NONBLOCK: a fifo does not hang
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as dst:
            shutil.copyfileobj(src, dst)
    return True


def _copy_submission(source: Path, target: Path, skipped: list[str], rel: str = "") -> None:
    """Copy a submission folder: regular files and folders only, never through a link.

    A symbolic link (or a fifo, socket, device) is not copied; its path goes into
    ``skipped``.  Nothing a link points at, inside the submission or out of it, is read.
    """
    target.mkdir(mode=0o700)
    try:
        entries = sorted(os.scandir(source), key=lambda e: e.name)
    except OSError:  # unreadable: graded as empty, and said so
        skipped.append(rel or ".")
        return
    for entry in entries:
        path = rel + entry.name
        if entry.is_symlink():
            skipped.append(path)
        elif entry.is_dir(follow_symlinks=False):
            _copy_submission(Path(entry.path), target / entry.name, skipped, path + "/")
        elif not (entry.is_file(follow_symlinks=False)
                  and _copy_file(entry.path, target / entry.name)):
            skipped.append(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def _remove_stale_copies(folder: Path) -> None:
    """Remove the copies of runs that died (SIGKILL, a crash) before cleaning up after
    themselves; a live run's copy (another assignment graded at the same time) is kept."""
    for run in folder.glob("run-*"):
        pid = run.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(run, ignore_errors=True)


@contextlib.contextmanager
def private_copies(course: Path, assignment: str, students: list[str]):
    """Copy every student's submission of ``assignment`` into a grader-private folder.

    Yields ``(submitted, skipped)``: ``submitted`` is the copy's nbgrader
    ``submitted`` folder relative to ``course`` (``.grading/run-<pid>-*/submitted``,
    mode 0700, owned by the grader, in no sandbox's view), and ``skipped`` maps each
    student to the paths in their submission that were not copied (symbolic links
    and other non-regular files).  The whole class is copied before any student code
    runs, so a change to ``course/submitted`` during the run, by a kernel or anyone,
    changes no grade.  The copy is removed at the end.

    ``submitted/<student>/<assignment>`` themselves may be links (the instructor's
    layout); inside a submission nothing is followed.
    """
    folder = Path(course) / PRIVATE
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    _remove_stale_copies(folder)
    run = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=folder))  # 0700
    try:
        skipped: dict[str, list[str]] = {}
        for student in students:
            (run / "submitted" / student).mkdir(mode=0o700, parents=True)
            skipped[student] = []
            _copy_submission(Path(course) / "submitted" / student / assignment,
                             run / "submitted" / student / assignment, skipped[student])
        yield str((run / "submitted").relative_to(course)), skipped
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _skipped_flags(paths: list[str], limit: int = 5) -> list[str]:
    flags = [f"symlink-skipped:{_safe(p)}" for p in paths[:limit]]
    if len(paths) > limit:
        flags.append(f"symlink-skipped:{len(paths) - limit}-more")
    return flags


def _skipped_note(paths: list[str]) -> str:
    # a name the student chose goes into the feedback's markdown: no markup from it
    shown = ", ".join(f"`{_safe(p)}`" for p in paths[:5]) + (" and more" if len(paths) > 5 else "")
    return (f"Not graded: {shown} in your submission "
            f"{'is a symbolic link' if len(paths) == 1 else 'are symbolic links'} (or not "
            "a regular file). The grader copies regular files only and never follows a link; "
            "submit the file itself.")


#: a course's student roster, the CSV that ``nbgrader db student import`` reads (``id``,
#: and optionally ``first_name``, ``last_name``, ``email``): imported at the start of every
#: run, so that the Formgrader shows each student's name
ROSTER = "students.csv"


def _import_roster(course: Path) -> None:
    roster = course / ROSTER
    if not roster.is_file():
        return
    from nbgrader.apps.dbapp import DbStudentImportApp
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory

    cfg = config(course)
    # nbgrader's own importer, without its command line: that would also read a config
    # file from the working folder and put the folder on sys.path
    app = DbStudentImportApp(config=cfg, log_level=logging.CRITICAL)
    app.coursedir = CourseDirectory(config=cfg)
    app.authenticator = Authenticator(config=cfg)
    app.extra_args = [str(roster)]
    try:
        app.start()
    except SystemExit:  # nbgrader's fail(): it exits instead of raising
        raise ValueError(f"roster {roster} could not be imported: nbgrader reads a CSV file "
                         "with an 'id' column (and optionally first_name, last_name, "
                         "email)") from None


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


def _annotate(notebook: Path, verification, flags: list[str], extra: list[str] = ()) -> None:
    """Put the verifier's findings (and the ``extra`` lines) on top of the autograded
    notebook, and so of the feedback."""
    import nbformat

    if not flags and not verification.notes and not extra:
        return
    nb = nbformat.read(str(notebook), as_version=4)
    lines = ["**Grader's note.**" + (" Your functions were re-checked outside your notebook "
                                     "(a fresh process, without the reference implementation)."
                                     if flags or verification.notes else "")]
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
    lines += [f"- {line}" for line in extra]
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


def _code_cells(folder: Path, assignment: str) -> int:
    """How many code cells the submission in ``folder`` and the source have, whichever is more."""
    import nbformat

    count = 0
    for where in (folder, REPO / "solutions" / assignment):
        for path in where.glob("*.ipynb"):
            try:
                count = max(count, sum(c.cell_type == "code" for c in
                                       nbformat.read(str(path), as_version=4).cells))
            except Exception:  # noqa: BLE001 - nbgrader reports unreadable notebooks itself
                continue
    return count


# -- a cell copied in Jupyter: the same grade_id twice ----------------------------------------

@dataclass
class Duplicate:
    notebook: str           # file name
    grade_id: str
    kind: str               # "test cell", "answer cell", "read-only cell"
    positions: list[int]    # 1-based cell numbers


def duplicates(folder: Path) -> list[Duplicate]:
    """nbgrader cells whose ``grade_id`` appears more than once, per notebook in ``folder``.

    A copy-paste in Jupyter copies a cell's nbgrader metadata with it.  nbgrader
    0.9.6 drops the metadata of all but the last copy (DeduplicateIds) and then
    fails on the emptied metadata (OverwriteCells.add_missing_task_cells raises
    KeyError 'grade_id'), so the notebook cannot be autograded at all.
    """
    import nbformat

    found = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            cells = nbformat.read(str(path), as_version=4).cells
        except Exception:  # noqa: BLE001 - an unreadable notebook is nbgrader's to report
            continue
        seen: dict[str, list[int]] = {}
        kinds: dict[str, str] = {}
        for number, cell in enumerate(cells, 1):
            meta = cell.get("metadata", {}).get("nbgrader")
            if not isinstance(meta, dict) or not isinstance(meta.get("grade_id"), str):
                continue
            # the cells nbgrader's DeduplicateIds looks at
            if not (meta.get("grade") or meta.get("solution") or meta.get("locked")):
                continue
            seen.setdefault(meta["grade_id"], []).append(number)
            kinds[meta["grade_id"]] = ("answer cell" if meta.get("solution") else
                                       "test cell" if meta.get("grade") else "read-only cell")
        found += [Duplicate(path.name, gid, kinds[gid], where) for gid, where in seen.items()
                  if len(where) > 1]
    return found


def _duplicate_advice(dup: Duplicate) -> str:
    count = len(dup.positions)
    times = {2: "twice", 3: "three times"}.get(count, f"{count} times")
    cells = ", ".join(str(n) for n in dup.positions[:-1]) + f" and {dup.positions[-1]}"
    fix = {"answer cell": "keep your answer in one of them and delete the other "
                          f"{'copies' if count > 2 else 'copy'}",
           "test cell": f"delete the {'copies' if count > 2 else 'copy'} (the tests are put "
                        "back from the original whatever is done to them)",
           "read-only cell": f"delete the {'copies' if count > 2 else 'copy'}"}[dup.kind]
    name, notebook = _safe(dup.grade_id, 80), _safe(dup.notebook, 80)
    return (f"The {dup.kind} '{name}' appears {times} in {notebook} (cells "
            f"{cells}, counting from the top): its nbgrader grade_id, '{name}', is "
            f"on {count} cells, and nbgrader cannot grade a notebook where a grade_id appears "
            "more than once. This most likely happened when the cell was copied and pasted in "
            "Jupyter, which copies the cell's grading metadata with it. To fix it, "
            f"{fix}, or restore the original cell from the released notebook (the assignment "
            "as you fetched it), then submit again.")


def _write_duplicate_feedback(course: Path, assignment: str, student: str, folder: Path,
                              found: list[Duplicate]) -> None:
    """Feedback for a notebook nbgrader could not grade because of duplicated cells."""
    out = course / "feedback" / student / assignment
    shutil.rmtree(out, ignore_errors=True)  # an earlier run's feedback is not for this submission
    out.mkdir(parents=True)
    for name in ("timestamp.txt", "submission_secret.txt"):  # nbgrader release_feedback reads them
        if (folder / name).is_file():
            shutil.copyfile(folder / name, out / name)
    for notebook in sorted({d.notebook for d in found}):
        advice = [_duplicate_advice(d) for d in found if d.notebook == notebook]
        body = "".join(f"<p>{html.escape(a)}</p>\n" for a in advice)
        title = html.escape(f"{assignment}: {notebook}")
        (out / (Path(notebook).stem + ".html")).write_text(
            f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            f"<body>\n<h1>{title}</h1>\n<p><strong>Your notebook could not be graded "
            "automatically.</strong> It waits for your instructor to grade it by hand, or for "
            f"you to fix it and submit again.</p>\n{body}</body></html>\n")


def grade_one(course: Path, assignment: str, student: str, cell_timeout: int = CELL_TIMEOUT,
              jail=None, submitted: str | None = None, skipped: list[str] = ()) -> Row:
    """Autograde, verify and give feedback to one submission.

    ``submitted`` is the private copy of the class (:func:`private_copies`, relative
    to ``course``) to grade from, and ``skipped`` what that copy left out of this
    submission; without ``submitted``, this one submission is copied first.
    """
    if submitted is None:
        with private_copies(course, assignment, [student]) as (copy, left_out):
            return grade_one(course, assignment, student, cell_timeout, jail, copy,
                             left_out[student])
    from nbgrader.api import Gradebook

    started = time.perf_counter()
    phases: dict[str, float] = {}
    flags: list[str] = _skipped_flags(list(skipped))
    folder = course / submitted / student / assignment
    found = duplicates(folder)
    flags += [f"duplicate-cell:{_safe(d.grade_id)}" for d in found[:5]]
    api = _api(course, submitted, cell_timeout=cell_timeout, sandboxed=jail is not None)
    if jail is not None:
        from .jail import BUDGET_ENV

        os.environ[BUDGET_ENV] = str(cell_timeout * (_code_cells(folder, assignment) + 2) + 60)
    result = api.autograde(assignment, student, force=True, create=True)
    phases["autograde"] = time.perf_counter() - started
    autograded = course / "autograded" / student / assignment
    notebooks = sorted(autograded.glob("*.ipynb")) if result.get("success") else []
    if not result.get("success"):
        flags.append("autograde-failed")
        if found:  # fails closed to manual grading; the student is told why and what to do
            _write_duplicate_feedback(course, assignment, student, folder, found)
    extra = [_skipped_note(list(skipped))] if skipped else []
    mark = time.perf_counter()
    for notebook in notebooks:
        verification = _verify(notebook, assignment, cell_timeout, jail, flags)
        changes = _apply_verification(course, assignment, student, verification)
        flags += changes
        flags += [f"note:{n.split(':')[0]}" for n in verification.notes]
        _annotate(notebook, verification, [f for f in changes if not f.startswith("reference")],
                  extra)
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
    course, assignment, student, cell_timeout, jail_root, submitted, skipped = args
    _quiet()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            jail = None
            if jail_root:
                from .jail import JAIL_ENV, Jail

                os.environ[JAIL_ENV] = jail_root
                jail = Jail(jail_root)
            return grade_one(course, assignment, student, cell_timeout, jail, submitted,
                             skipped)
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
    refused if it holds triggers or a schema nbgrader did not make.  The class is
    copied privately (:func:`private_copies`) before any student code runs, and
    graded from that copy.  ``progress`` is called with each :class:`Row` as it
    is done.
    """
    return grade_many([assignment], course, workers=workers, cell_timeout=cell_timeout,
                      progress=progress, sandbox=sandbox)


def grade_many(names: list[str], course: Path, *, workers: int = 1,
               cell_timeout: int = CELL_TIMEOUT, progress=None, sandbox: bool = True) -> list[Row]:
    """:func:`grade` for several assignments in one run, as one stream of work.

    One pool of ``workers`` grades every submission of every assignment, so no
    worker waits at the end of one assignment for the next to be set up.  The
    rows come back in the order of ``names``, then students.
    """
    course = Path(course).resolve()
    known = assignments()
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise ValueError(f"ASSIGNMENT must be one of {known}, got {unknown or names!r}")
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
            for name in names:
                _prepare(course, name)
            _import_roster(course)
        students = {name: students_of(course, name) for name in names}
        # the whole class is copied before the first kernel starts
        with contextlib.ExitStack() as stack:
            queue = []
            for name in names:
                submitted, skipped = stack.enter_context(
                    private_copies(course, name, students[name]))
                queue += [(course, name, s, cell_timeout, str(jail.root) if jail else "",
                           submitted, skipped[s]) for s in students[name]]
            done: dict[tuple[str, str], Row] = {}

            def finished(row: Row) -> None:
                done[row.assignment, row.student] = row
                if progress:
                    progress(row)

            if workers == 1 or len(queue) <= 1:
                for job in queue:
                    finished(_grade_one_quietly(job))
            else:
                spawn = get_context("spawn")
                with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
                    # submitted in order, so the pool takes them in order
                    for future in as_completed([pool.submit(_grade_one_quietly, job)
                                                for job in queue]):
                        finished(future.result())
        check_integrity(course)
        return [done[name, s] for name in names for s in students[name]]
    finally:
        if jail is not None:
            jail.cleanup()


def clean(course: Path) -> None:
    """Remove nbgrader's runtime folders and gradebook (submissions are kept)."""
    for name in ("autograded", "feedback", PRIVATE):
        shutil.rmtree(course / name, ignore_errors=True)
    for db in course.glob("gradebook.db*"):
        db.unlink()
