"""nbgrader configuration for the descentlab course.

The settings live in descentlab.grading.nbconfig, so that the `nbgrader`
command line (run from this folder) and `descentlab grade` agree: sources in
../solutions, student versions in ../assignments, the gradebook in
./gradebook.db, a cell timeout, warnings kept off stderr, deleted test cells
restored, and feedback that never shows the hidden tests.
"""

from pathlib import Path

from descentlab.grading.nbconfig import configure

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
configure(c, root=Path(__file__).resolve().parent)
