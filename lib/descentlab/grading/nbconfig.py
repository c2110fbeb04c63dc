"""nbgrader configuration for a descentlab course root, in one place.

``course/nbgrader_config.py`` calls :func:`configure`, so the ``nbgrader``
command line and ``descentlab grade`` see the same settings.
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

REPO = Path(__file__).resolve().parents[3]

#: seconds a single notebook cell may run while autograding
CELL_TIMEOUT = 120

# Graded cells must not write to stderr (nbgrader scores any stderr output as a
# failure), so the kernel starts with warnings silenced.
KERNEL_STARTUP = ["import warnings", "warnings.simplefilter('ignore')"]


def configure(c: Config, root: Path | str, *, source: Path | str | None = None,
              release: Path | str | None = None, db: Path | str | None = None,
              cell_timeout: int = CELL_TIMEOUT, sandboxed: bool = False) -> Config:
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from .feedback import ClearRestoredHiddenTests, ConciseTestErrors

    root = Path(root).resolve()
    c.CourseDirectory.course_id = "descentlab"
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = str(Path(source or REPO / "solutions").resolve())
    c.CourseDirectory.release_directory = str(Path(release or REPO / "assignments").resolve())
    # a course-relative SQLite gradebook; the busy timeout lets parallel graders wait their turn
    c.CourseDirectory.db_url = f"sqlite:///{Path(db or root / 'gradebook.db').resolve()}?timeout=120"
    # where `nbgrader release_assignment` puts assignments for students to fetch; a real
    # course on a shared JupyterHub points this at its shared exchange folder instead
    c.Exchange.root = str(root / "exchange")
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]
    if cell_timeout < 1:
        raise ValueError(f"cell_timeout must be >= 1 second, got {cell_timeout}")
    c.Execute.timeout = cell_timeout
    c.Execute.interrupt_on_timeout = True
    # the outputs are in once the last cell is done; a graceful shutdown only waits for the
    # kernel to exit, which one time in ten took 3 s more (measured), holding up a worker
    c.Execute.shutdown_kernel = "immediate"
    # the kernel's own log (e.g. its warning that it talks over local TCP) is not
    # the student's output, and would only clutter the grader's terminal
    c.Execute.extra_arguments = [f"--InteractiveShellApp.exec_lines={KERNEL_STARTUP!r}",
                                 "--IPKernelApp.log_level=ERROR"]
    if sandboxed:
        # the kernel runs in bubblewrap (descentlab.grading.jail), talking over IPC sockets
        c.Execute.kernel_manager_class = "descentlab.grading.jail.JailedKernelManager"
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    # a deleted test cell comes back, so deleting tests earns nothing
    c.OverwriteCells.add_missing_cells = True
    # feedback shows each test's outcome and message, never the hidden tests' code (and a
    # student's cell quoting the hidden-test marker does not stop the feedback)
    c.GenerateFeedback.preprocessors = [GetGrades, ClearRestoredHiddenTests, ConciseTestErrors,
                                        CSSHTMLHeaderPreprocessor]
    c.GenerateFeedback.exporter_class = "descentlab.grading.feedback.FeedbackExporter"
    return c


def config(root: Path | str, **kwargs) -> Config:
    return configure(Config(), root, **kwargs)
