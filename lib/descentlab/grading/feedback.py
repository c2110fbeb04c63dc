"""Feedback that explains a failure without showing the hidden tests.

nbgrader's ClearHiddenTests removes the hidden lines from a test cell's
source, but the traceback in the cell's output quotes the very line that
failed, hidden or not (and the grader's file paths).  The test cells' errors
are already written for students (see :mod:`descentlab.grading.report`), so
the feedback keeps just that message.

nbgrader's ClearHiddenTests also looks for its marker, ``BEGIN HIDDEN TESTS``,
in every cell, and fails the whole feedback when a cell that is not a grade
cell holds it, or holds it without ``END HIDDEN TESTS`` (a student's comment
or note quoting it).  :class:`ClearRestoredHiddenTests` never fails: it
removes hidden regions from the cells autograde put back from the
instructor's source, and leaves the student's own cells as written.

Which cells those are is read from ``locked``, not from ``grade`` and
``solution``: a student can edit any flag in a cell's metadata, but
autograde resets ``locked`` from the gradebook (OverwriteCells) and puts
back the source of every locked cell, test cells included.
"""

from jinja2 import BytecodeCache
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool


def _restored(cell) -> bool:
    """A cell autograde put back from the instructor's source: locked, with a grade_id
    (test cells and read-only cells; ``locked`` comes from the gradebook, not the student)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return isinstance(meta, dict) and meta.get("grade_id") is not None and bool(meta.get("locked"))


class ClearRestoredHiddenTests(ClearHiddenTests):
    """nbgrader's ClearHiddenTests, without failing on a student's quotation of its marker.

    Hidden tests can only be in a cell autograde restored from the source
    (nbgrader's release refuses a hidden region outside a test cell, and the
    student's copy never had one).  In each restored cell every hidden region
    is removed, an unclosed one to the end of the cell; every other cell is the
    student's own and is left as written.  Nothing raises, so the feedback is
    always written.
    """

    def _remove_hidden_test_region(self, cell) -> bool:
        kept, inside, removed = [], False, False
        for line in cell.source.split("\n"):
            if self.begin_test_delimeter in line:
                inside = removed = True  # a nested marker: still inside
            elif self.end_test_delimeter in line and inside:
                inside = False
            elif not inside:
                kept.append(line)
        cell.source = "\n".join(kept)
        return removed

    def preprocess_cell(self, cell, resources, index):
        if _restored(cell):
            self._remove_hidden_test_region(cell)
        return cell, resources


class ConciseTestErrors(Preprocessor):
    """Replace each test cell's traceback by its message (``ExceptionType: message``
    for anything but a failed check)."""

    enabled = Bool(True).tag(config=True)  # nbconvert preprocessors start disabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and _restored(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    # a failed check's message is written for students and goes
                    # first; any other error keeps its name so it reads as one
                    ename, evalue = output.get("ename"), output.get("evalue", "")
                    output["traceback"] = [evalue if ename == "GradingFailure"
                                           else f"{ename}: {evalue}"]
        return cell, resources


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, kept in memory for the life of the grading process.

    nbgrader makes a new HTML exporter, and so a new Jinja environment, for
    every feedback it writes, and each one compiled the same nine templates
    from their sources again: the larger part of writing one student's
    feedback.  Jinja checks each template's source against the checksum it
    was compiled from, so an edited template is compiled afresh.
    """

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _CompiledTemplates()


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, with its templates compiled once per process."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES
        return environment
