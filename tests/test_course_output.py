"""What `descentlab course` (``make course``) tells an instructor while it grades:
a progress bar naming each submission, one line per flagged submission, why the
solution lacks points, and where everything went.  The grading itself is tested
in tests/grading/test_pipeline.py; here it is replaced by rows it could return."""

import csv
import io
import re
from contextlib import redirect_stderr, redirect_stdout

import nbformat
import pytest

from descentlab import course
from descentlab.grading import demo
from descentlab.grading.pipeline import Row, assignments

from .grading.notebooks import ROOT, meta, source_notebooks


def _hand_graded_points(assignment: str) -> float:
    """Points of the written (markdown) answers, read from the solution notebook."""
    return sum(float(meta(c).get("points", 0)) for path in source_notebooks(assignment)
               for c in nbformat.read(str(path), as_version=4).cells
               if c.cell_type == "markdown" and meta(c).get("grade"))


def test_the_hand_graded_points_are_explained():
    names = assignments()
    points = {_hand_graded_points(name) for name in names}
    line = course._hand_graded_line(names)
    assert len(points) == 1 and f"{points.pop():g} points" in line
    assert "by hand" in line and "Formgrader" in line


def test_flags_come_one_line_per_submission_with_their_meaning():
    rows = [Row("kofi", "ps1_gradient_descent", 10, 13, ["lowered:test_sgd_step_weight_decay",
                                                          "needs-manual-grading:2"]),
            Row("ada", "ps2_momentum", 13, 13, []),
            Row("zed", "ps2_momentum", 0, 13, ["reference-call:test_x"])]
    lines = course._flag_lines(rows)
    assert lines[1].split() == ["kofi", "/", "ps1_gradient_descent",
                                "lowered:test_sgd_step_weight_decay,", "needs-manual-grading:2"]
    assert lines[2].split()[0] == "zed" and not any("ada" in line for line in lines)
    meanings = lines[lines.index("meaning:") + 1:]
    assert [m.split()[0] for m in meanings] == ["lowered", "needs-manual-grading", "reference-call"]
    assert all(len(m.split()) > 3 for m in meanings)  # each kind is explained in words
    assert course._flag_lines([rows[1]]) == []


def test_progress_names_each_submission_and_grades_csv_is_written(monkeypatch, tmp_path):
    """Stand-in grader: every demo student of every assignment gets its expected score."""
    expected = demo.expected_rows()

    def fake_grade_many(names, course_root, workers=1, progress=None):
        out = []
        for name in names:
            for student in sorted(s for s, a in expected if a == name):
                score, total = expected[student, name]
                out.append(Row(student, name, score, total, ["needs-manual-grading:2"]
                               if student == "solution" else []))
                progress(out[-1])
        return out

    monkeypatch.setattr("descentlab.grading.pipeline.grade_many", fake_grade_many)
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        ok = course.grade_demo(2, grades=tmp_path / "grades.csv")
    assert ok, stdout.getvalue()
    bar = stderr.getvalue()
    last = sorted(s for s, a in expected if a == assignments()[-1])[-1]
    assert re.search(rf"{assignments()[-1]} / {last} \d", bar), bar[-500:]
    assert f"{len(expected)}/{len(expected)}" in bar
    with open(tmp_path / "grades.csv", newline="") as f:
        written = {(r["student"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
                   for r in csv.DictReader(f)}
    assert written == expected
    text = stdout.getvalue()
    assert "solution / ps1_gradient_descent" in text and "by hand" in text


def test_the_summary_names_every_output_that_exists_after_make_course():
    text = course.summary()
    for path in ("out/lectures/", "course/demo/feedback/", "course/demo/gradebook.db",
                 "out/grades.csv"):
        assert path in text
    assert (ROOT / "course" / "demo").is_dir()


@pytest.mark.parametrize("name", sorted(course.FLAG_MEANINGS))
def test_every_flag_kind_the_pipeline_raises_is_explained(name):
    source = (ROOT / "lib" / "descentlab" / "grading" / "pipeline.py").read_text()
    assert name in source, f"{name} is explained but the pipeline never raises it"


def test_the_lectures_execute_while_the_demo_class_is_graded(monkeypatch, tmp_path):
    """Each waits for the other to have started: run one after the other, this deadlocks
    (and fails on the 30 s timeouts instead)."""
    import threading
    from pathlib import Path

    from descentlab import notebooks

    grading, lecturing = threading.Event(), threading.Event()
    expected = demo.expected_rows()

    def fake_execute(path, *, timeout=0, keep=None):
        lecturing.set()
        assert grading.wait(30), "the lectures waited for the grading to finish"
        return notebooks.Run(Path(path), 0.1)

    def fake_grade_many(names, course_root, workers=1, progress=None):
        grading.set()
        assert lecturing.wait(30), "the grading waited for the lectures to finish"
        rows = [Row(s, a, *expected[s, a]) for s, a in sorted(expected) if a in names]
        for row in rows:
            progress(row)
        return rows

    monkeypatch.setattr(notebooks, "execute", fake_execute)
    monkeypatch.setattr("descentlab.grading.pipeline.grade_many", fake_grade_many)
    monkeypatch.setattr(course, "check_optimizers", lambda: True)
    monkeypatch.setattr(course, "release_all", lambda: None)
    monkeypatch.setattr(course, "REPO", tmp_path)
    stdout = io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(io.StringIO()):
        assert course.main(workers=2) == 0
    text = stdout.getvalue()
    assert text.index("Grading the demo class") < text.index("Lectures, executed headless")
    assert len(re.findall(r"^\s+\d\d_\S+\.ipynb\s+0\.1 s\s+ok", text, re.M)) == \
        len(list(notebooks.LECTURES.glob("[0-9]*.ipynb")))
