"""A function that calls the reference is caught, statically and at run time."""

import numpy as np

import descentlab.optim as dlo
from descentlab.grading import evaluate, find
from descentlab.grading.guard import Tripwire, static_uses

FORBIDDEN = find("ps3_adaptive.adam_step").forbidden


def test_static_check_sees_a_reference_bound_to_a_global():
    namespace = {"Adam": dlo.Adam, "np": np}
    exec("def f(w):\n    return Adam([w])", namespace)
    assert static_uses(namespace["f"], FORBIDDEN) == ["Adam (from descentlab.optim.adam)"]


def test_static_check_leaves_numpy_and_own_helpers_alone():
    namespace = {"np": np}
    exec("def helper(x):\n    return np.sqrt(x)\ndef f(w):\n    return helper(w) + np.ones(3)",
         namespace)
    assert static_uses(namespace["f"], FORBIDDEN) == []


def test_tripwire_sees_a_call_hidden_behind_an_import_inside_the_function():
    def sneaky(w):
        import importlib
        return importlib.import_module("descentlab.optim").SGD([w])

    with Tripwire(FORBIDDEN) as wire:
        sneaky(np.zeros(2))
    assert wire.hits and "optim" in wire.hits[0]


def test_tripwire_is_quiet_for_plain_numpy():
    with Tripwire(FORBIDDEN) as wire:
        np.linalg.norm(np.sqrt(np.arange(4.0)))
    assert wire.hits == []


def test_a_reference_call_earns_no_credit_and_says_why():
    exercise = find("ps3_adaptive.adam_step")

    def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        import descentlab.optim as o
        w = w.copy()
        opt = o.Adam([w], lr=lr, betas=(beta1, beta2), eps=eps)
        if state:
            opt.state[0].update(state)
        opt.step([dw])
        state.update(opt.state[0])
        return w

    mismatch = evaluate(exercise, adam_step, "first_step")
    assert mismatch is not None and mismatch.problem == "reference"
    assert "no credit" in mismatch.describe("adam_step")
