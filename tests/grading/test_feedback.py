"""The feedback's hidden-test filter (the real feedback runs are in test_pipeline.py)."""

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests

from descentlab.grading.feedback import ClearRestoredHiddenTests


def _cell(kind, source, **nbgrader):
    cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(source)
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


def test_the_feedback_hides_restored_hidden_tests_and_keeps_the_students_quotes():
    hidden = 'check(f, "state")\n### BEGIN HIDDEN TESTS\ncheck(f, "state", hidden=True)\n' \
             '### END HIDDEN TESTS'
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        # a restored test cell: locked (from the gradebook), whatever flags the student set
        _cell("code", hidden, grade_id="test_a", grade=True, solution=False, locked=True),
        _cell("code", hidden, grade_id="test_b", grade=False, solution=True, locked=True),
        _cell("code", "# BEGIN HIDDEN TESTS\nsecret()", grade_id="c", locked=True),
        # the student's own cells quoting the marker, one of them never closing it
        _cell("code", "def f():\n    # see BEGIN HIDDEN TESTS\n    return 1", grade_id="f",
              solution=True, grade=False, locked=False),
        _cell("markdown", "My notes: BEGIN HIDDEN TESTS ... END HIDDEN TESTS"),
    ]
    with pytest.raises(RuntimeError):  # what nbgrader's own filter does with this notebook
        ClearHiddenTests().preprocess(nbformat.from_dict(nb), {})
    out, _ = ClearRestoredHiddenTests().preprocess(nb, {})
    sources = [c.source for c in out.cells]
    assert sources[0] == sources[1] == 'check(f, "state")'
    assert sources[2] == ""  # an unclosed region in a restored cell: removed to the end
    assert sources[3] == "def f():\n    # see BEGIN HIDDEN TESTS\n    return 1"
    assert sources[4] == "My notes: BEGIN HIDDEN TESTS ... END HIDDEN TESTS"


def test_feedback_html_is_nbconverts_and_its_templates_are_compiled_once_per_process(monkeypatch):
    """The exporter nbgrader makes for every feedback reuses the templates the first one
    compiled, and writes exactly the HTML nbconvert's own exporter writes."""
    import jinja2
    from nbconvert.exporters import HTMLExporter

    from descentlab.grading import feedback
    from descentlab.grading.nbconfig import config

    assert config("/nowhere").GenerateFeedback.exporter_class == \
        "descentlab.grading.feedback.FeedbackExporter"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Feedback"),
                                         nbformat.v4.new_code_cell("print(1)")])
    monkeypatch.setattr(feedback, "_TEMPLATES", feedback._CompiledTemplates())
    compiled = []
    original = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile",
                        lambda self, *a, **k: compiled.append(a) or original(self, *a, **k))
    first, _ = feedback.FeedbackExporter().from_notebook_node(nb)
    assert compiled and feedback._TEMPLATES.compiled
    compiled.clear()
    second, _ = feedback.FeedbackExporter().from_notebook_node(nb)  # a new environment
    assert compiled == [] and second == first
    assert HTMLExporter().from_notebook_node(nb)[0] == first
