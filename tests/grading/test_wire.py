"""What the grader may hand a student's process besides data: functions named
from an allow-list and the objectives of descentlab.problems, rebuilt only on
the student's side; the grader never builds an object from the student's reply."""

import functools
import json
import shutil
import struct

import numpy as np
import pytest

from descentlab import problems
from descentlab.grading import wire


def body_of(doc: dict) -> bytes:
    text = json.dumps(doc).encode()
    return struct.pack("<Q", len(text)) + text


def roundtrip(obj, **kw):
    framed, _ = wire.pack(obj)
    return wire.unpack(framed[8:], **kw)[0]


def test_allowed_functions_travel_by_name_and_work():
    x = np.array([3.0, -4.0, 12.0])
    sent = {"norm": np.linalg.norm, "cube": functools.partial(np.linalg.norm, ord=3),
            "prod": np.prod, "add": np.add}
    got = roundtrip(sent)
    assert got["norm"] is np.linalg.norm and got["prod"] is np.prod and got["add"] is np.add
    assert got["cube"](x) == pytest.approx(np.linalg.norm(x, ord=3))


def test_other_callables_are_refused_by_the_sender():
    def local(v):
        return v
    for bad in (local, lambda v: v, print, shutil.rmtree, functools.partial(print, 1)):
        with pytest.raises(wire.WireError):
            wire.pack(bad)


@pytest.mark.parametrize("name", ["os:system", "builtins:eval", "subprocess:run",
                                  "numpy:<lambda>", "descentlab.grading:check"])
def test_a_function_outside_the_allow_list_is_refused_by_the_receiver(name):
    with pytest.raises(wire.WireError):
        wire.unpack(body_of({"fn": name}), build_objects=True)


def test_objectives_are_rebuilt_on_the_students_side_only():
    objective = problems.HyperparameterObjective(steps=5)
    framed, _ = wire.pack([objective, objective.__call__])
    rebuilt, method = wire.unpack(framed[8:], build_objects=True)[0]
    assert type(rebuilt) is problems.HyperparameterObjective and rebuilt is not objective
    assert rebuilt(lr=0.1) == objective(lr=0.1)
    # the grader's side: an object it did not send is never built
    with pytest.raises(wire.WireError, match="cannot be received"):
        wire.unpack(framed[8:])


def test_a_bound_method_of_an_objective_travels_with_its_object():
    problem = problems.LeastSquaresProblem()
    framed, _ = wire.pack(problem.loss_and_grad)
    method = wire.unpack(framed[8:], build_objects=True)[0]
    w = problem.w0.copy()
    loss, grad = method(w)
    want_loss, want_grad = problem.loss_and_grad(w)
    assert loss == want_loss and np.array_equal(grad, want_grad)
    for forged in ({"method": [{"tuple": []}, "loss_and_grad"]},):
        with pytest.raises(wire.WireError):
            wire.unpack(body_of(forged), build_objects=True)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_in_the_jail_the_objectives_calls_come_back_into_the_graders_object():
    from descentlab.grading.jail import Jail
    from descentlab.grading.sandbox import StudentProcess

    source = ("def search(objective, n):\n"
              "    return [objective(lr=10.0 ** -k) for k in range(n)]\n")
    forbidden = ("descentlab.optim", "descentlab.grading", "descentlab.tuning", "torch")
    jail = Jail()
    try:
        with StudentProcess([(0, source)], forbidden, jail=jail) as child:
            objective = problems.HyperparameterObjective(steps=5)
            scores = child.function("search")(objective, 3)
        assert [c["lr"] for c in objective.calls] == [1.0, 0.1, 0.01]
        fresh = problems.HyperparameterObjective(steps=5)
        assert scores == [fresh(lr=10.0 ** -k) for k in range(3)]
    finally:
        jail.cleanup()


# -- arrays: raw bytes, with dtype and shape in the JSON -------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

NUMBER_DTYPES = st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(endianness="="),
                          hnp.unsigned_integer_dtypes(endianness="="),
                          hnp.floating_dtypes(endianness="=", sizes=(16, 32, 64)),
                          hnp.complex_number_dtypes(endianness="="),
                          hnp.floating_dtypes(endianness=">", sizes=(32, 64)))


@settings(max_examples=60, deadline=None)
@given(a=hnp.arrays(NUMBER_DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)),
       transpose=st.booleans())
def test_any_number_array_arrives_equal_writable_and_its_own(a, transpose):
    sent = a.T if transpose else a  # a Fortran-ordered view travels too
    got = roundtrip([sent, sent])
    assert got[0] is got[1]  # identity survives
    assert type(got[0]) is np.ndarray and got[0].dtype == sent.dtype and got[0].shape == sent.shape
    np.testing.assert_array_equal(got[0], sent)  # nan == nan here, bit patterns aside
    assert got[0].flags.writeable and got[0].flags.owndata


@given(x=st.one_of(st.integers(-2**63, 2**63 - 1).map(np.int64), st.floats().map(np.float64),
                   st.booleans().map(np.bool_), st.floats(width=32).map(np.float32)))
def test_numpy_scalars_arrive_as_the_same_scalars(x):
    got = roundtrip(x)
    assert type(got) is type(x)
    assert got == x or (np.isnan(got) and np.isnan(x))


def framed_array(node: dict, blob: bytes) -> bytes:
    text = json.dumps(node).encode()
    return struct.pack("<Q", len(text)) + text + struct.pack("<Q", len(blob)) + blob


@pytest.mark.parametrize("node, blob", [
    ({"array": 0, "dtype": "|O8", "shape": [1]}, b"\0" * 8),             # objects: pickles
    ({"array": 0, "dtype": "|V8", "shape": [1]}, b"\0" * 8),             # raw void
    ({"array": 0, "dtype": "[('a', '<f8')]", "shape": [1]}, b"\0" * 8),  # structured
    ({"array": 0, "dtype": "<M8", "shape": [1]}, b"\0" * 8),             # datetimes
    ({"array": 0, "dtype": "<U1", "shape": [2]}, b"\0" * 8),             # strings
    ({"array": 0, "dtype": "<f3", "shape": [1]}, b"\0" * 3),             # no such size
    ({"array": 0, "dtype": ["<f8"], "shape": [1]}, b"\0" * 8),
    ({"array": 0, "dtype": "<f8", "shape": [2]}, b"\0" * 8),             # too few bytes
    ({"array": 0, "dtype": "<f8", "shape": [1]}, b"\0" * 9),             # too many
    ({"array": 0, "dtype": "<f8", "shape": [-1]}, b"\0" * 8),
    ({"array": 0, "dtype": "<f8", "shape": [1.0]}, b"\0" * 8),
    ({"array": 0, "dtype": "<f8", "shape": [True]}, b"\0" * 8),
    ({"array": 0, "dtype": "<f8", "shape": "8"}, b"\0" * 8),
    ({"array": 0, "dtype": "<f8", "shape": [1] * 65}, b"\0" * 8),
    ({"array": 0, "dtype": "<f8", "shape": [2**62, 2**62, 0]}, b""),     # empty, too big sides
    ({"array": 0, "dtype": "<f8", "shape": [2**62, 4]}, b"\0" * 8),      # no overflow to 8
    ({"array": 0, "dtype": "<f8"}, b"\0" * 8),
    ({"scalar": 0, "dtype": "<f8", "shape": [1]}, b"\0" * 8),            # a scalar is 0-d
])
def test_a_forged_array_is_refused_as_malformed(node, blob):
    with pytest.raises(wire.WireError):
        wire.unpack(framed_array(node, blob))
