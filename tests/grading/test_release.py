"""assignments/ and the demo class are always what a fresh release would produce."""

import json
from pathlib import Path

import nbformat
import pytest

from descentlab.grading import demo
from descentlab.grading.pipeline import release

from .notebooks import ROOT, assignments

ASSIGNMENTS = assignments()


def _content(path: Path) -> dict:
    return json.loads(path.read_text())


def test_committed_assignments_equal_a_fresh_release(tmp_path):
    release(release_dir=tmp_path / "assignments", root=tmp_path / "course")
    fresh = sorted(p.relative_to(tmp_path / "assignments")
                   for p in (tmp_path / "assignments").rglob("*.ipynb"))
    committed = sorted(p.relative_to(ROOT / "assignments")
                       for p in (ROOT / "assignments").rglob("*.ipynb"))
    assert fresh == committed, "run `descentlab release` and commit assignments/"
    for rel in fresh:
        assert _content(tmp_path / "assignments" / rel) == _content(ROOT / "assignments" / rel), \
            f"assignments/{rel} differs from a fresh release: run `descentlab release`"


def test_release_is_deterministic(tmp_path):
    for run in ("a", "b"):
        release(["ps3_adaptive"], release_dir=tmp_path / run, root=tmp_path / f"course{run}")
    for path in (tmp_path / "a").rglob("*.ipynb"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def test_released_notebooks_hide_solutions_and_hidden_tests():
    for path in (ROOT / "assignments").rglob("*.ipynb"):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "hidden=True"):
            assert marker not in text, f"{path} leaks {marker!r}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_demo_submissions_are_in_step_with_the_release(assignment, tmp_path):
    demo.build(assignment, root=tmp_path)
    for path in (tmp_path / "submitted").rglob("*.ipynb"):
        committed = demo.DEMO / path.relative_to(tmp_path)
        assert committed.exists() and _content(committed) == _content(path), \
            f"{committed} is stale: rebuild with descentlab.grading.demo.build"


def test_notebooks_are_committed_without_outputs():
    for folder in ("solutions", "assignments", "course/demo/submitted", "lectures"):
        for path in (ROOT / folder).rglob("*.ipynb"):
            for cell in nbformat.read(str(path), as_version=4).cells:
                if cell.cell_type == "code":
                    assert not cell.outputs and cell.execution_count is None, path
