"""Feedback that explains a failure without showing the hidden tests.

nbgrader's ClearHiddenTests removes the hidden lines from a test cell's
source, but the traceback in the cell's output quotes the very line that
failed, hidden or not (and the grader's file paths).  The test cells' errors
are already written for students (see :mod:`descentlab.grading.report`), so
the feedback keeps just that message.
"""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


class ConciseTestErrors(Preprocessor):
    """Replace each test cell's traceback by its message (``ExceptionType: message``
    for anything but a failed check)."""

    enabled = Bool(True).tag(config=True)  # nbconvert preprocessors start disabled

    def preprocess_cell(self, cell, resources, index):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    # a failed check's message is written for students and goes
                    # first; any other error keeps its name so it reads as one
                    ename, evalue = output.get("ename"), output.get("evalue", "")
                    output["traceback"] = [evalue if ename == "GradingFailure"
                                           else f"{ename}: {evalue}"]
        return cell, resources
