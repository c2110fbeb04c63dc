"""What a student reads when a test cell fails: in the notebook, in nbgrader's
Validate output and in the feedback.

A released notebook is filled the way a student would (one function right,
one with a catalogued mistake, the rest still stubs) and executed in a real
kernel, so the checks see the outputs IPython and nbgrader produce.
"""

import re

import numpy as np

import nbformat
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from descentlab.grading import WIDTH, GradingFailure, wrap
from descentlab.grading.demo import _fill
from descentlab.grading.report import Mismatch

from .notebooks import ROOT, meta

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ASSIGNMENT = "ps1_gradient_descent"
RIGHT = {"sgd_step": "return w - lr * (dw + weight_decay * w)"}
# a catalogued mistake (course/demo/answers/ps1_gradient_descent.py, "tomas")
WRONG = {"exponential_decay": "return lr0 * (1 - k) ** t"}


@given(st.text(st.sampled_from("ab cdefgh  ij\n"), max_size=400), st.integers(20, 100))
def test_wrap_keeps_every_word_and_fits_lines_that_can_fit(text, width):
    wrapped = wrap(text, width)
    assert wrapped.split() == text.split()
    for line in wrapped.splitlines():
        assert len(line) <= width or " " not in line.strip(), (line, width)


def test_wrap_rejects_a_width_too_small_to_read():
    with pytest.raises(ValueError, match="width"):
        wrap("text", 5)


def test_an_exception_with_no_message_does_not_end_on_a_colon():
    m = Mismatch("w", "error", "the function raised ZeroDivisionError: ")
    assert m.describe("f") == "f: w is wrong: the function raised ZeroDivisionError (with no message)"


def test_a_stub_a_partner_needs_is_named():
    m = Mismatch("dx", "error", "the function raised NotImplementedError:  "
                 "(in your batchnorm_forward, which this test needs)")
    assert m.describe("batchnorm_backward").splitlines()[0] == \
        "batchnorm_backward: your batchnorm_forward is not implemented yet"


def test_the_rendered_traceback_is_the_message_alone():
    failure = GradingFailure("f: w is wrong\nThis matches a known mistake: x. " + "word " * 30)
    lines = [ANSI.sub("", line) for line in failure._render_traceback_()]
    assert lines[0] == "f: w is wrong"
    assert " ".join(" ".join(lines).split()) == " ".join(str(failure).split())
    assert max(map(len, lines)) <= WIDTH


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    from nbclient import NotebookClient

    path = sorted((ROOT / "assignments" / ASSIGNMENT).glob("*.ipynb"))[0]
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        answer = {**RIGHT, **WRONG}.get(meta(cell).get("grade_id"))
        if answer and meta(cell).get("solution"):
            cell.source = _fill(cell.source, answer)
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute()
    out = tmp_path_factory.mktemp("student") / path.name
    nbformat.write(nb, str(out))
    return nb, out


def _test_cells(nb, function):
    return [c for c in nb.cells if meta(c).get("grade") and not meta(c).get("solution")
            and meta(c)["grade_id"].startswith(f"test_{function}_")]


def _errors(cell):
    return [o for o in cell.outputs if o.output_type == "error"]


@pytest.mark.slow
def test_the_passing_part_says_so_and_the_failing_one_leads_with_its_diagnosis(executed):
    nb, _ = executed
    for cell in _test_cells(nb, "sgd_step"):
        assert not _errors(cell), cell.source
        assert "passed" in "".join(o.get("text", "") for o in cell.outputs)
    failures = [e for cell in _test_cells(nb, "exponential_decay") for e in _errors(cell)]
    assert failures, "the catalogued mistake passed its test cells"
    for error in failures:
        assert error.ename == "GradingFailure"
        lines = [ANSI.sub("", line) for line in error.traceback]
        assert lines[0].startswith("exponential_decay: "), lines
        assert any("known mistake" in line for line in lines), lines
        # no traceback: no file, no frame, nothing pointing into descentlab
        assert not any(re.search(r"File |descentlab/|Traceback|---->", line) for line in lines)
        assert max(map(len, lines)) <= WIDTH, lines


@pytest.mark.slow
def test_an_unwritten_stub_says_not_implemented_yet(executed):
    nb, _ = executed
    errors = [e for cell in _test_cells(nb, "step_decay") for e in _errors(cell)]
    assert errors
    for error in errors:
        first = ANSI.sub("", error.traceback[0])
        assert first == "step_decay: not implemented yet", first
        assert not any(ANSI.sub("", line).rstrip().endswith(":") for line in error.traceback)


@pytest.mark.slow
def test_validate_shows_the_whole_diagnosis(executed):
    """The JSON behind JupyterLab's Validate dialog, and `nbgrader validate`'s
    text, which cuts any line past its width with "..."."""
    import io

    from nbgrader.validator import Validator

    nb, path = executed
    messages = ["\n".join(ANSI.sub("", line) for line in e.traceback)
                for cell in _test_cells(nb, "exponential_decay") for e in _errors(cell)]
    validator = Validator()
    validator.stream = io.StringIO()
    report = validator.validate(str(path))
    raw = "\n".join(f["raw_error"] for f in report.get("failed", []))
    validator.validate_and_print(str(path))
    printed = validator.stream.getvalue()
    for message in messages:
        for line in message.splitlines():  # every line of the diagnosis, uncut
            assert line in raw, (line, raw)
            assert "    " + line + "\n" in printed, (line, printed)


@pytest.mark.slow
def test_feedback_keeps_the_diagnosis_and_nothing_else(executed):
    from descentlab.grading.feedback import ConciseTestErrors

    nb, _ = executed
    nb = ConciseTestErrors().preprocess(nb, {})[0]
    for cell in _test_cells(nb, "exponential_decay"):
        for error in _errors(cell):
            assert error.traceback == [error.evalue]
            assert error.evalue.startswith("exponential_decay: ")
            assert "BEGIN HIDDEN" not in error.evalue


@pytest.mark.parametrize("message, width, error, fragment", [
    (["a", "b"], 70, TypeError, "message must be a string, got list"),
    (b"text", 70, TypeError, "message must be a string, got bytes"),
    ("text", 70.5, TypeError, "width must be an integer"),
    ("text", None, TypeError, "width must be an integer"),
])
def test_wrap_refuses_what_is_not_text_by_name(message, width, error, fragment):
    # found by tests/fuzz: a list raised AttributeError from .splitlines()
    with pytest.raises(error, match=fragment):
        wrap(message, width)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8),
       st.sampled_from([np.inf, -np.inf, np.nan]), st.floats(1e-3, 1e6))
@example([0.0, 1e6], np.inf, 1e-3)  # 1e-3 off at 0 is within the tolerance a 1e6 beside it sets
def test_an_infinite_expected_entry_does_not_widen_the_tolerance_of_the_others(values, special,
                                                                             shift):
    """An inf among the expected values once scaled the absolute tolerance to inf, so any
    answer passed wherever the reference overflowed."""
    from descentlab.grading.report import compare

    expected = np.array([special, *values])
    actual = expected.copy()
    # off by far more than any tolerance, which scales with the largest finite entry
    actual[1] += shift * max(1.0, max(abs(v) for v in values))
    found = compare("x", expected, actual)
    assert found is not None and found.problem == "value"
    assert compare("x", expected, expected.copy()) is None
