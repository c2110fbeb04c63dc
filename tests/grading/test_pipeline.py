"""The real pipeline on the demo class: nbgrader autograde, out-of-process
verification, feedback and gradebook, checked against what each demo
submission is declared to get wrong."""

import csv
import html
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from descentlab.grading import demo
from descentlab.grading.pipeline import grade, grade_many

from .notebooks import ROOT, assignments

ASSIGNMENTS = assignments()
# the module fixture grades the whole demo class, with two processes of its own; make test's
# --dist loadfile keeps this module on one xdist worker, so it is graded once per run
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every demo submission graded once, in a scratch copy of course/demo."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(demo.DEMO / "submitted", course / "submitted")
    rows = {(row.student, row.assignment): row
            for row in grade_many(ASSIGNMENTS, course, workers=2)}
    return course, rows


def feedback_of(course: Path, student: str, assignment: str) -> str:
    return "".join(p.read_text() for p in (course / "feedback" / student / assignment).glob("*.html"))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_scores_equal_what_each_submission_should_get(graded, assignment):
    _, rows = graded
    expected = demo.expected_rows()
    for student, submission in demo.submissions(assignment).items():
        row = rows[student, assignment]
        score, total = demo.expected_score(assignment, submission)
        assert (row.score, row.max_score) == (score, total), \
            f"{student} ({submission.note}): got {row.score}/{row.max_score}, flags {row.flags}"
        assert expected[student, assignment] == (score, total), "course/demo/expected.csv is stale"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_names_each_mistake_and_hides_the_hidden_tests(graded, assignment):
    course, rows = graded
    for student, submission in demo.submissions(assignment).items():
        html = feedback_of(course, student, assignment)
        assert html, f"no feedback for {student}"
        assert "hidden=True" not in html and "BEGIN HIDDEN TESTS" not in html
        for phrase in submission.mentions:
            assert phrase in html, f"{student}'s feedback does not say {phrase!r}"
        for flag in submission.flags:
            assert any(f.startswith(flag) for f in rows[student, assignment].flags), \
                f"{student}: expected a {flag} flag, got {rows[student, assignment].flags}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_validates_and_the_hand_graded_answer_is_flagged(graded, assignment):
    from nbgrader.validator import Validator

    course, rows = graded
    for path in (course / "submitted" / "solution" / assignment).glob("*.ipynb"):
        results = Validator().validate(str(path))
        assert not results.get("failed") and not results.get("changed"), results
    flags = rows["solution", assignment].flags
    assert all(f.startswith("needs-manual-grading") for f in flags), flags


def test_grading_again_changes_nothing(graded):
    course, rows = graded
    assignment = "ps3_adaptive"  # where the verifier overrules a cheat and leaves a note
    again = {r.student: r for r in grade(assignment, course, workers=2)}
    for student, row in again.items():
        assert (row.score, row.max_score, row.flags) == (
            rows[student, assignment].score, rows[student, assignment].max_score,
            rows[student, assignment].flags)
    notebook = next((course / "autograded" / "vic" / assignment).glob("*.ipynb"))
    notes = [c for c in nbformat.read(str(notebook), as_version=4).cells
             if c.source.startswith("**Grader's note")]
    assert len(notes) == 1


def test_one_worker_gives_the_grades_two_workers_gave(graded, tmp_path):
    course, rows = graded  # graded with two workers
    assignment = ASSIGNMENTS[0]
    students = ["blank", "kofi", "solution"]
    for student in students:
        shutil.copytree(course / "submitted" / student / assignment,
                        tmp_path / "submitted" / student / assignment)
    serial = grade(assignment, tmp_path, workers=1)
    assert {(r.student, r.score, r.max_score, tuple(r.flags)) for r in serial} == {
        (s, r.score, r.max_score, tuple(r.flags)) for (s, a), r in rows.items()
        if a == assignment and s in students}


def test_broken_submissions_are_flagged_and_the_class_is_still_graded(tmp_path):
    """One run grades the broken, the awkward and the hostile next to a correct
    submission: each gets what it earns, and each is told why."""
    import copy

    assignment = "ps3_adaptive"
    released = next((ROOT / "assignments" / assignment).glob("*.ipynb"))
    solved = demo.DEMO / "submitted" / "solution" / assignment / released.name
    submitted = tmp_path / "submitted"
    shutil.copytree(demo.DEMO / "submitted" / "solution", submitted / "solution")

    def student(name):
        folder = submitted / name / assignment
        folder.mkdir(parents=True)
        return folder / released.name

    def with_cell(name, code, at=2):
        nb = nbformat.read(str(solved), 4)
        nb.cells.insert(at, nbformat.v4.new_code_cell(code))
        nbformat.write(nb, str(student(name)))

    student("corrupt").write_text("{ this is not json")
    (submitted / "empty" / assignment).mkdir(parents=True)
    with_cell("killer", "import os\nos._exit(1)")
    with_cell("sleeper", "while True:\n    pass")

    # a test cell copied and pasted in Jupyter: the same grade_id twice (nbgrader 0.9.6 crashes)
    nb = nbformat.read(str(solved), 4)
    index = next(i for i, c in enumerate(nb.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "test_adagrad_step_state")
    twin = copy.deepcopy(nb.cells[index])
    twin["id"] = "pasted-copy"
    nb.cells.insert(index + 1, twin)
    nbformat.write(nb, str(student("copier")))

    # an honest student whose own cells quote nbgrader's hidden-test marker
    nb = nbformat.read(str(solved), 4)
    answer = next(c for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "adagrad_step")
    answer.source += "\n# my note: the grader hides ### BEGIN HIDDEN TESTS blocks"
    nb.cells.insert(2, nbformat.v4.new_markdown_cell(
        "Notes to self: BEGIN HIDDEN TESTS marks what the feedback hides"))
    nb.cells.insert(3, nbformat.v4.new_code_cell(
        "# ### BEGIN HIDDEN TESTS\nprint('mine')\n# ### END HIDDEN TESTS"))
    nbformat.write(nb, str(student("quoter")))

    # links out of a submission: the notebook is another student's (correct) one, and the
    # quoter's folder of notes is somewhere else on the disk
    linked = submitted / "linker" / assignment
    linked.mkdir(parents=True)
    (linked / released.name).symlink_to(submitted / "solution" / assignment / released.name)
    (tmp_path / "elsewhere").mkdir()
    (submitted / "quoter" / assignment / "notes").symlink_to(tmp_path / "elsewhere")

    # after the first student is graded, something rewrites the solution student's notebook
    # (a kernel that escaped, a careless hand): the grade comes from the copy made before
    target = submitted / "solution" / assignment / released.name
    def tamper(row):
        if row.student == "copier":
            target.write_text("{ overwritten during the run")

    rows = {r.student: r for r in grade(assignment, tmp_path, cell_timeout=5, progress=tamper)}
    assert set(rows) == {"copier", "corrupt", "empty", "killer", "linker", "quoter", "sleeper",
                         "solution"}
    assert target.read_text() == "{ overwritten during the run"  # the tampering did happen
    total = rows["solution"].max_score
    assert rows["solution"].score == total - 2  # all but the hand-graded answer
    for name in ("corrupt", "empty", "killer", "linker", "copier"):
        assert rows[name].score == 0 and rows[name].max_score == total, (name, rows[name])
    assert "autograde-failed" in rows["corrupt"].flags
    # the sleeper's loop is interrupted; the rest of its (correct) notebook still counts
    assert rows["sleeper"].score == total - 2, rows["sleeper"]
    # nothing was lost: the submissions are untouched and the gradebook has every student
    assert (submitted / "corrupt" / assignment / released.name).read_text() == "{ this is not json"

    # the links were not followed: no points from the other student's notebook
    assert {f"symlink-skipped:{released.name}", "autograde-failed"} <= set(rows["linker"].flags)
    assert "symlink-skipped:notes" in rows["quoter"].flags, rows["quoter"].flags
    assert not (tmp_path / "autograded" / "quoter" / assignment / "notes").exists()

    # the copied cell fails closed to manual grading, and the student is told what to do
    assert {"duplicate-cell:test_adagrad_step_state", "autograde-failed"} <= \
        set(rows["copier"].flags), rows["copier"].flags
    told = html.unescape(feedback_of(tmp_path, "copier", assignment))
    for phrase in ("'test_adagrad_step_state' appears twice", "grade_id", "copied and pasted",
                   "delete the copy", "restore the original cell from the released notebook"):
        assert phrase in told, phrase

    # quoting the hidden-test marker costs neither points nor feedback
    assert rows["quoter"].score == total - 2 and "feedback-failed" not in rows["quoter"].flags
    told = feedback_of(tmp_path, "quoter", assignment)
    assert "Notes to self" in told and "my note: the grader hides" in told
    assert "<code>notes</code> in your submission is a symbolic link" in told
    assert "hidden=True" not in told  # the hidden tests themselves stay hidden

    # the private copy of the class is gone
    assert list((tmp_path / ".grading").iterdir()) == []


def test_cli_prints_csv_and_exits_zero(graded, tmp_path):
    course, rows = graded
    assignment = ASSIGNMENTS[0]
    shutil.copytree(course / "submitted" / "noor", tmp_path / "submitted" / "noor")
    out = subprocess.run([sys.executable, "-m", "descentlab.cli", "grade", assignment,
                          "--course", str(tmp_path)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(table[0]) == ["student", "assignment", "score", "max_score", "flags"]
    assert [(r["student"], float(r["score"])) for r in table] == [
        ("noor", rows["noor", assignment].score)]


def test_cli_rejects_an_unknown_assignment(tmp_path):
    out = subprocess.run([sys.executable, "-m", "descentlab.cli", "grade", "ps9_nothing",
                          "--course", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "ASSIGNMENT" in out.stderr


def test_a_grader_killed_mid_class_loses_nothing_and_a_rerun_finishes(tmp_path):
    """SIGKILL the grader after the first student; the rerun grades everyone, the
    submissions are untouched and the gradebook holds one row per student."""
    import hashlib
    import signal
    import time

    from nbgrader.api import Gradebook

    from descentlab.grading.nbconfig import config

    assignment = "ps3_adaptive"
    for student in ("noor", "solution", "tomas"):
        shutil.copytree(demo.DEMO / "submitted" / student / assignment,
                        tmp_path / "submitted" / student / assignment)
    digest = lambda: {p.name: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
                      for p in sorted((tmp_path / "submitted").rglob("*.ipynb"))}
    before = digest()
    proc = subprocess.Popen([sys.executable, "-m", "descentlab.cli", "grade", assignment,
                             "--course", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (tmp_path / "feedback" / "noor").exists() and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "feedback" / "noor").exists(), "the first student was never graded"

    rows = {r.student: r for r in grade(assignment, tmp_path)}
    expected = {s: demo.expected_score(assignment, demo.submissions(assignment)[s])[0]
                for s in ("noor", "solution", "tomas")}
    assert {s: r.score for s, r in rows.items()} == expected
    assert digest() == before
    # the killed run's private copy of the class was removed by the rerun, which removed its own
    assert list((tmp_path / ".grading").iterdir()) == []
    with Gradebook(config(tmp_path).CourseDirectory.db_url, "descentlab") as gb:
        assert sorted(s.student.id for s in gb.find_assignment(assignment).submissions) == \
            sorted(expected)


def test_the_roster_gives_the_gradebook_each_students_name(tmp_path):
    """``students.csv`` in the course root is imported as ``nbgrader db student import``
    would, so the Formgrader shows names; a file nbgrader cannot read is a clear error."""
    from nbgrader.api import Gradebook

    from descentlab.grading.nbconfig import config
    from descentlab.grading.pipeline import ROSTER, _import_roster

    _import_roster(tmp_path)  # no roster: nothing to do
    (tmp_path / ROSTER).write_text("id,first_name,last_name,email\nkofi,Kofi,Mensah,\n"
                                   "lena,Lena,,lena@example.org\n")
    _import_roster(tmp_path)
    with Gradebook(config(tmp_path).CourseDirectory.db_url, "descentlab") as gb:
        got = {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}
    assert got == {"kofi": ("Kofi", "Mensah", None), "lena": ("Lena", None, "lena@example.org")}
    (tmp_path / ROSTER).write_text("name,first_name\nx,y\n")
    with pytest.raises(ValueError, match="'id' column"):
        _import_roster(tmp_path)


def test_the_demo_roster_names_exactly_the_demo_students():
    with open(demo.DEMO / "students.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["id"] for r in rows) == sorted(p.name for p in (demo.DEMO / "submitted").iterdir())
    assert all(r["first_name"] and r["last_name"] for r in rows)

