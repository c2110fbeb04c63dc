"""What `descentlab grade` reads before any student code runs: a private copy of
the class that follows no link, and the check on it for duplicated cells.  The
real runs are in test_pipeline.py."""

import os
import stat
import subprocess
import sys

import nbformat

from descentlab.grading.pipeline import PRIVATE, _duplicate_advice, duplicates, private_copies


def _submission(course, student="ana", assignment="ps"):
    folder = course / "submitted" / student / assignment
    (folder / "sub").mkdir(parents=True)
    (folder / "ps.ipynb").write_text('{"cells": []}')
    (folder / "timestamp.txt").write_text("2026-11-30 01:00:00.000000 UTC")
    (folder / "sub" / "data.csv").write_text("1,2\n")
    return folder


def test_the_copy_holds_the_regular_files_only_privately_and_is_removed(tmp_path):
    folder = _submission(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the student's")
    (folder / "stolen.txt").symlink_to(outside)
    (folder / "sub" / "up").symlink_to(tmp_path)            # a folder link, out of the submission
    (folder / "inner.ipynb").symlink_to(folder / "ps.ipynb")  # even a link inside is not followed
    os.mkfifo(folder / "pipe")                                # would hang a naive copy
    with private_copies(tmp_path, "ps", ["ana"]) as (submitted, skipped):
        copy = tmp_path / submitted / "ana" / "ps"
        files = sorted(str(p.relative_to(copy)) for p in copy.rglob("*"))
        assert files == ["ps.ipynb", "sub", "sub/data.csv", "timestamp.txt"]
        assert (copy / "timestamp.txt").read_text() == (folder / "timestamp.txt").read_text()
        assert skipped == {"ana": ["inner.ipynb", "pipe", "stolen.txt", "sub/up"]}
        run = (tmp_path / submitted).parent
        assert run.parent == tmp_path / PRIVATE and not submitted.startswith("/")
        for path in (tmp_path / PRIVATE, run, copy, copy / "sub"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
        for path in (copy / "ps.ipynb", copy / "sub" / "data.csv"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert {p.stat().st_uid for p in copy.rglob("*")} == {os.getuid()}
        # a change to the submission after the copy is not in the copy
        (folder / "ps.ipynb").write_text("{ changed }")
        assert (copy / "ps.ipynb").read_text() == '{"cells": []}'
    assert not run.exists()


def test_a_killed_runs_copy_is_removed_and_a_live_runs_is_kept(tmp_path):
    _submission(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / PRIVATE / f"run-{dead}-abc" / "submitted"
    live = tmp_path / PRIVATE / f"run-{os.getppid()}-def" / "submitted"  # pytest's parent lives
    for path in (stale, live):
        path.mkdir(parents=True)
    with private_copies(tmp_path, "ps", ["ana"]):
        assert not stale.parent.exists() and live.exists()


def _cell(kind, source, **nbgrader):
    cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(source)
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


def test_a_copied_cell_is_found_and_explained(tmp_path):
    nb = nbformat.v4.new_notebook()
    answer = dict(grade_id="adam_step", solution=True, grade=False, locked=False)
    test = dict(grade_id="test_adam_step_state", grade=True, solution=False, locked=True,
                points=1)
    nb.cells = [_cell("code", "def adam_step(): ...", **answer),
                _cell("code", "def adam_step(): ...", **answer),
                _cell("code", "check()", **test),
                _cell("code", "scratch", grade_id="notes"),  # no grade/solution/locked: ignored
                _cell("code", "scratch", grade_id="notes"),
                _cell("code", "check()", **test),
                _cell("code", "check()", **test)]
    nbformat.write(nb, str(tmp_path / "ps.ipynb"))
    found = {d.grade_id: d for d in duplicates(tmp_path)}
    assert sorted(found) == ["adam_step", "test_adam_step_state"]
    assert (found["adam_step"].kind, found["adam_step"].positions) == ("answer cell", [1, 2])
    assert found["test_adam_step_state"].positions == [3, 6, 7]
    said = _duplicate_advice(found["adam_step"])
    assert "'adam_step' appears twice in ps.ipynb (cells 1 and 2" in said
    assert "keep your answer in one of them and delete the other copy" in said
    said = _duplicate_advice(found["test_adam_step_state"])
    assert "appears three times" in said and "cells 3, 6 and 7" in said
    assert "delete the copies" in said and "released notebook" in said
