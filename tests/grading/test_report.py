"""Comparison of a student's value with the reference: type, then shape, then value."""

import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from descentlab.grading.report import compare, tolerance

arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.floats(-1e3, 1e3))


@given(arrays)
def test_identical_values_pass(a):
    assert compare("w", a, a.copy()) is None


@given(arrays, st.data())
def test_a_perturbation_beyond_tolerance_is_reported_at_its_index(a, data):
    index = data.draw(st.tuples(*[st.integers(0, n - 1) for n in a.shape]))
    rtol, atol = tolerance(a)
    b = a.copy()
    b[index] += 10 * (atol + rtol * abs(a[index])) + 1e-300
    m = compare("state['exp_avg']", a, b)
    assert m is not None and m.problem == "value"
    assert f"index {index}" in m.detail and "state['exp_avg']" in m.describe("f")


@given(arrays)
def test_roundoff_from_reordered_algebra_passes(a):
    # e.g. (x * y) / z computed as x * (y / z): a few ulps apart
    b = a * (1 + 4 * np.finfo(np.float64).eps)
    assert compare("w", a, b) is None


def test_checks_run_type_then_shape_then_dtype_then_value():
    a = np.zeros((2, 3))
    assert compare("w", a, [[0.0] * 3] * 2).problem == "type"
    assert compare("w", a, None).problem == "type"
    assert compare("w", a, np.zeros((3, 2), np.float32)).problem == "shape"
    assert compare("w", a, np.zeros((2, 3), np.float32)).problem == "dtype"
    assert compare("w", a, np.ones((2, 3))).problem == "value"


def test_float32_gets_a_looser_tolerance_than_float64():
    a64 = np.array([1.0])
    a32 = a64.astype(np.float32)
    assert compare("w", a64, a64 * (1 + 1e-5)) is not None
    assert compare("w", a32, (a32 * (1 + 1e-5)).astype(np.float32)) is None


def test_counts_compare_by_value_and_nan_matches_nan():
    assert compare("state['step']", 3, 3.0) is None
    assert compare("state['step']", 3, 4).problem == "value"
    assert compare("state['step']", 3, "3").problem == "type"
    assert compare("w", np.array([np.nan, 1.0]), np.array([np.nan, 1.0])) is None
    assert compare("w", np.array([np.nan]), np.array([1.0])).problem == "value"


def test_message_names_variable_step_case_and_mistake():
    m = compare("returned w", np.array([1.0, 2.0]), np.array([1.0, 2.5]))
    m.step, m.case, m.mistake, m.hint = 3, "case 2 of 2: lr=0.1", "eps inside the square root", "Add eps after."
    text = m.describe("adam_step")
    for piece in ("adam_step", "returned w", "step 3", "case 2 of 2", "expected 2", "got 2.5",
                  "known mistake: eps inside the square root", "Add eps after."):
        assert piece in text, piece
