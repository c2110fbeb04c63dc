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
