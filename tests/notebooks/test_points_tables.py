"""Issue 11, "done when": each reworked problem set's first cell has a points table
(| part | function | points | kind |) that agrees with its nbgrader test cells, and
the line "Autograded: N points, of which M (x%) are ..." that it states is the
table's own sum, with at least half of the autograded points on derive, measure,
check or find-the-bug parts."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
REASONING = {"derive", "measure", "check", "find the bug"}
BY_HAND = {"explain"}
ROW = re.compile(r"^\|\s*(?P<part>\d+)\s*\|(?P<function>.*?)\|\s*(?P<points>\d+)\s*\|\s*(?P<kind>[^|]+?)\s*\|\s*$",
                 re.M)
SUMMARY = re.compile(r"Autograded: (?P<total>\d+) points, of which (?P<reasoning>\d+) \((?P<percent>\d+)%\)")


def with_tables() -> list[str]:
    found = []
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        first = nbformat.read(str(path), as_version=4).cells[0].source
        if "| part | function | points | kind |" in first:
            found.append(path.parent.name)
    return found


def test_the_reworked_problem_sets_have_tables():
    assert {"ps1_gradient_descent", "ps2_momentum"} <= set(with_tables())


@pytest.mark.parametrize("assignment", with_tables())
def test_the_points_table_agrees_with_the_test_cells_and_is_half_reasoning(assignment):
    nb = nbformat.read(str(ROOT / "solutions" / assignment / f"{assignment}.ipynb"), as_version=4)
    first = nb.cells[0].source
    rows = [m.groupdict() for m in ROW.finditer(first)]
    assert rows, "no rows in the points table"
    autograded = sum(int(r["points"]) for r in rows if r["kind"] not in BY_HAND)
    reasoning = sum(int(r["points"]) for r in rows if r["kind"] in REASONING)
    tests = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution"))
    assert autograded == tests, f"the table's autograded points {autograded} != the test cells' {tests}"
    summary = SUMMARY.search(first)
    assert summary, "no 'Autograded: N points, of which M (x%)' line"
    assert int(summary["total"]) == autograded and int(summary["reasoning"]) == reasoning
    assert int(summary["percent"]) == round(100 * reasoning / autograded)
    assert reasoning / autograded >= 0.5, f"{reasoning} of {autograded} points are reasoning parts"
