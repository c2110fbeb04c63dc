"""Every kind of hostile submission in one class, graded by one real `descentlab grade` run.

The class holds one student per kind of attack (see ``students.py``) and two
honest controls.  After the run, for every student: no point it did not
deserve (attackers implement nothing; the honest students get exactly their
points), the controls' scores exact, the gradebook free of triggers and
extra credit, solutions/, the package and every submission byte-identical
(hashed before and after), and no marker written by code that reached
outside its sandbox.  The run itself must complete and print every student.
"""

import csv
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from descentlab.grading import demo
from descentlab.grading.jail import unavailable

from ..notebooks import ROOT
from .students import FUNCTIONS, STUDENTS

# one grading run for the whole class: ~10 min on a shared, loaded 2-core machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
ASSIGNMENT = "ps2_momentum"
TESTS = {"test_sgd_momentum_step_first_step": 1, "test_sgd_momentum_step_dampening": 2,
         "test_sgd_momentum_step_changing_lr": 1, "test_classic_momentum_step_trajectory": 1,
         "test_classic_momentum_step_state": 1, "test_classic_momentum_step_changing_lr": 2,
         "test_nesterov_step_trajectory": 2, "test_nesterov_step_state": 1}
CELL_TIMEOUT = 12
# most attackers are graded while they sleep, hang or wait for a limit, not computing: four
# workers overlap those waits on two cores (and grade concurrently, as an instructor would)
WORKERS = 4


def _digest(paths) -> dict[str, str]:
    out = {}
    for root in paths:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".nbi", ".nbc"):
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def build(course: Path, mark: Path) -> None:
    released = ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    for name, student in STUDENTS.items():
        nb = nbformat.read(str(released), as_version=4)
        fill = lambda code: (code.replace("@MARK@", str(mark)).replace("@COURSE@", str(course))
                             .replace("@REPO@", str(ROOT)))
        cells = []
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            gid = meta.get("grade_id")
            if gid in FUNCTIONS:
                cell.source = demo._fill(cell.source, fill(student.code(gid)))
            if gid in TESTS and ("*" in student.test_edits or gid in student.test_edits):
                cell.source = student.test_edits.get(gid, student.test_edits.get("*"))
            cells.append(cell)
            if gid == "imports":
                cells += [nbformat.v4.new_code_cell(fill(src)) for src in student.added]
        cells += [nbformat.v4.new_code_cell(fill(src)) for src in student.appended]
        for i, cell in enumerate(cells):
            cell["id"] = cell.get("id") or f"added-{i}"
            if not cell.get("id") or cell["id"].startswith("added"):
                cell["id"] = f"{name.replace('_', '-')}-{i:02d}"
        nb.cells = cells
        out = course / "submitted" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(out))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if unavailable():
        pytest.skip(f"no sandbox on this machine: {unavailable()}")  # make test installs bwrap
    course = tmp_path_factory.mktemp("attacked-course")
    mark = tmp_path_factory.mktemp("markers")
    mark.chmod(0o777)  # an escaped attacker, whatever its uid, must be able to leave evidence
    build(course, mark)
    guarded = [ROOT / "solutions", ROOT / "lib" / "descentlab", course / "submitted"]
    before = _digest(guarded)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "descentlab.cli", "grade", ASSIGNMENT,
                           "--course", str(course), "--workers", str(WORKERS),
                           "--cell-timeout", str(CELL_TIMEOUT)],
                          capture_output=True, text=True, timeout=1700, cwd=course)
    seconds = time.perf_counter() - started
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    print(f"\ngraded {len(rows)} submissions in {seconds:.0f} s")
    return dict(course=course, mark=mark, done=done, rows=rows, before=before,
                after=_digest(guarded), seconds=seconds)


def test_the_run_completes_and_grades_everyone_once(graded):
    done, rows = graded["done"], graded["rows"]
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [l for l in done.stdout.splitlines()[1:] if l]
    assert len(lines) == len(STUDENTS) and set(rows) == set(STUDENTS)


def released_points() -> float:
    """The assignment's total, read from the released notebook's grade cells."""
    nb = nbformat.read(str(ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    return sum(float(c.metadata.get("nbgrader", {}).get("points", 0)) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade"))


def test_the_attacked_cells_are_the_assignments_test_cells():
    nb = nbformat.read(str(ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert TESTS.items() <= points.items(), "TESTS no longer names ps2's test cells and points"


@pytest.mark.parametrize("name", sorted(STUDENTS))
def test_no_undeserved_point(graded, name):
    # the students answer the three step functions (TESTS, 11 points); nobody
    # answers ps2's later derive-then-compute part, so honest students get 11
    row = graded["rows"][name]
    score, total = float(row["score"]), float(row["max_score"])
    assert total == released_points()
    if STUDENTS[name].score:  # the honest students: exactly their points, no less
        assert score == STUDENTS[name].score, f"{name}: {row}"
    else:
        assert score == 0, f"{name} ({STUDENTS[name].note}) got {score}: {row['flags']}"


def test_nothing_outside_a_sandbox_was_reached(graded):
    assert sorted(os.listdir(graded["mark"])) == []


def test_solutions_package_and_submissions_are_unchanged(graded):
    changed = sorted(p for p in set(graded["before"]) | set(graded["after"])
                     if graded["before"].get(p) != graded["after"].get(p))
    assert changed == []


def test_gradebook_has_no_triggers_and_no_extra_credit(graded):
    with sqlite3.connect(graded["course"] / "gradebook.db") as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() == []
        assert db.execute("SELECT COUNT(*) FROM grade WHERE extra_credit IS NOT NULL "
                          "AND extra_credit != 0").fetchone() == (0,)


def test_every_honest_student_and_every_notebook_that_ran_has_feedback(graded):
    # a notebook that killed its own kernel has no autograded copy to give feedback on
    for name, student in STUDENTS.items():
        flags = graded["rows"][name]["flags"]
        if student.score or "autograde-failed" not in flags:
            html = list((graded["course"] / "feedback" / name / ASSIGNMENT).glob("*.html"))
            assert html, f"no feedback for {name}: {flags}"
