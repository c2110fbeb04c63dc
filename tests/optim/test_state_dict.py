"""state_dict / load_state_dict: a resumed run continues bit for bit."""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import descentlab.optim as dlo

from .cases import ALL_SPACES, Problem, shapes


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", sorted(ALL_SPACES))
@given(data=st.data(), param_shapes=st.lists(shapes, min_size=1, max_size=3),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1),
       before=st.integers(0, 30), after=st.integers(1, 30), via_pickle=st.booleans())
def test_resume_is_bit_identical(name, data, param_shapes, dtype, seed, before, after, via_pickle):
    hyper = data.draw(ALL_SPACES[name], label="hyper")
    problem = Problem(param_shapes, dtype, seed)
    grads = [problem.grads(problem.params) for _ in range(before + after)]

    straight = [p.copy() for p in problem.params]
    opt = getattr(dlo, name)(straight, **hyper)
    for g in grads:
        opt.step(g)

    first = [p.copy() for p in problem.params]
    opt1 = getattr(dlo, name)(first, **hyper)
    for g in grads[:before]:
        opt1.step(g)
    saved = opt1.state_dict()
    saved_params = [p.copy() for p in first]
    if via_pickle:
        saved = pickle.loads(pickle.dumps(saved))
    opt1.step(grads[0])  # must not leak into the saved copy

    fresh = getattr(dlo, name)(saved_params, **hyper)
    fresh.load_state_dict(saved)
    for g in grads[before:]:
        fresh.step(g)

    for a, b in zip(fresh.params, straight):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for s_fresh, s_straight in zip(fresh.state, opt.state):
        assert set(s_fresh) == set(s_straight)
        for key in s_straight:
            assert _equal(s_fresh[key], s_straight[key]), key


@pytest.mark.parametrize("name", sorted(ALL_SPACES))
def test_state_dict_is_a_copy_and_loading_copies(name):
    p = np.linspace(-1, 1, 6)
    opt = getattr(dlo, name)([p])
    opt.step([np.ones(6)])
    sd = opt.state_dict()
    snapshot = copy.deepcopy(sd)
    opt.step([np.ones(6)])
    for key, value in snapshot["state"][0].items():
        assert _equal(sd["state"][0][key], value), f"state_dict shares {key!r} with the optimizer"
    opt.load_state_dict(sd)
    for value in sd["state"][0].values():
        if isinstance(value, np.ndarray):
            value += 1.0
    for key, value in snapshot["state"][0].items():
        assert _equal(opt.state[0][key], value), f"load_state_dict kept a reference to {key!r}"


def _adam():
    opt = dlo.Adam([np.zeros((2, 3)), np.zeros(4)], lr=0.1)
    opt.step([np.ones((2, 3)), np.ones(4)])
    return opt


def _broken(mutate):
    sd = _adam().state_dict()
    mutate(sd)
    return sd


BAD = {
    "not a dict": (lambda sd: None, "state_dict"),
    "too few params": (lambda sd: sd["param_groups"][0].update(params=[0]), "parameters"),
    "unknown hyper": (lambda sd: sd["param_groups"][0].update(momentum=0.9), "momentum"),
    "missing hyper": (lambda sd: sd["param_groups"][0].pop("eps"), "eps"),
    "bad hyper value": (lambda sd: sd["param_groups"][0].update(lr=-1.0), "lr"),
    "wrong shape": (lambda sd: sd["state"][1].update(exp_avg=np.zeros(5)), "exp_avg"),
    "wrong dtype": (lambda sd: sd["state"][1].update(exp_avg=np.zeros(4, np.float32)), "exp_avg"),
    "missing key": (lambda sd: sd["state"][0].pop("exp_avg_sq"), "exp_avg_sq"),
    "negative step": (lambda sd: sd["state"][0].update(step=-1), "step"),
    "float step": (lambda sd: sd["state"][0].update(step=1.5), "step"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_state_dict_is_rejected_and_changes_nothing(case):
    mutate, word = BAD[case]
    opt = _adam()
    before = copy.deepcopy(opt.state_dict())
    sd = None if case == "not a dict" else _broken(mutate)
    with pytest.raises((ValueError, TypeError), match=word):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i in before["state"]:
        for key, value in before["state"][i].items():
            assert _equal(after["state"][i][key], value)
