"""The course's classic decays, which torch lacks: against their formulas,
computed here from the math, and against torch's schedulers where the two
coincide."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import descentlab.optim as dlo
import descentlab.schedulers as dls

from .cases import STEPS, assert_agree, log_uniform, lrs

t = np.arange(STEPS + 1)

#: name -> (argument strategy, the formula eta(t) written from the math)
FORMULAS = {
    "ExponentialDecayLR": (st.fixed_dictionaries(dict(decay_rate=log_uniform(1e-5, 0.5))),
                           lambda lr0, t, decay_rate: lr0 * math.exp(-decay_rate * t)),
    "HalvingLR": (st.fixed_dictionaries(dict(step_size=st.integers(1, 200))),
                  lambda lr0, t, step_size: lr0 / 2 ** (t // step_size)),
    "InverseTimeLR": (st.fixed_dictionaries(dict(decay_rate=log_uniform(1e-5, 10.0))),
                      lambda lr0, t, decay_rate: lr0 / (1 + decay_rate * t)),
    "PowerLR": (st.fixed_dictionaries(dict(power=st.floats(0.0, 2.0))),
                lambda lr0, t, power: lr0 / (t + 1) ** power),
}
CLOSED = {"ExponentialDecayLR": dls.exponential_decay, "HalvingLR": dls.halving,
          "InverseTimeLR": dls.inverse_time, "PowerLR": dls.power_decay}
assert set(FORMULAS) == set(dls.EXTRAS) == set(CLOSED)


def stepped(opt, sched, steps=STEPS):
    out = [opt.lr]
    for _ in range(steps):
        opt.step([0.1 * p for p in opt.params])
        sched.step()
        assert sched.get_last_lr() == [opt.lr]
        out.append(opt.lr)
    return np.array(out)


@pytest.mark.parametrize("name", sorted(FORMULAS))
@given(data=st.data(), lr0=lrs, kind=st.sampled_from(["SGD", "Adam", "Adagrad"]))
def test_extra_follows_its_formula(name, data, lr0, kind):
    strategy, formula = FORMULAS[name]
    kw = data.draw(strategy, label="arguments")
    opt = getattr(dlo, kind)([np.ones(3)], lr=lr0)
    lrs_ = stepped(opt, getattr(dls, name)(opt, **kw))
    expected = np.array([formula(lr0, int(s), **kw) for s in t])
    assert_agree(lrs_, expected, "stepped vs formula")
    assert_agree(CLOSED[name](t, lr0, **kw), expected, "closed form vs formula")


def test_power_decay_counts_steps_from_one():
    """0.1 t^-0.3 with t counted from 1: 0.1 at first, then 0.1 * 2^-0.3, ..."""
    opt = dlo.SGD([np.zeros(1)], lr=0.1)
    lrs_ = stepped(opt, dls.PowerLR(opt, power=0.3), steps=3)
    assert lrs_[0] == 0.1
    np.testing.assert_allclose(lrs_[1:], [0.1 * 2 ** -0.3, 0.1 * 3 ** -0.3, 0.1 * 4 ** -0.3],
                               rtol=1e-15)


def test_inverse_time_halves_after_one_over_k_steps():
    opt = dlo.SGD([np.zeros(1)], lr=0.2)
    lrs_ = stepped(opt, dls.InverseTimeLR(opt, decay_rate=0.05), steps=60)
    assert lrs_[20] == pytest.approx(0.1, rel=1e-15) and lrs_[60] == pytest.approx(0.05, rel=1e-15)


def test_exponential_decay_halves_every_ln2_over_k_steps():
    opt = dlo.SGD([np.zeros(1)], lr=1.0)
    k = math.log(2) / 10
    lrs_ = stepped(opt, dls.ExponentialDecayLR(opt, decay_rate=k), steps=30)
    np.testing.assert_allclose(lrs_[[10, 20, 30]], [0.5, 0.25, 0.125], rtol=1e-14)


@given(lr0=lrs, step_size=st.integers(1, 100))
def test_halving_is_step_lr_with_gamma_one_half_exactly(lr0, step_size):
    a = dlo.SGD([np.ones(2)], lr=lr0)
    b = dlo.SGD([np.ones(2)], lr=lr0)
    assert np.array_equal(stepped(a, dls.HalvingLR(a, step_size), steps=300),
                          stepped(b, dls.StepLR(b, step_size, gamma=0.5), steps=300))


@given(lr0=lrs, k=log_uniform(1e-4, 0.05))
def test_exponential_decay_is_exponential_lr_with_gamma_e_to_the_minus_k(lr0, k):
    """Same curve; torch's recursion multiplies gamma in 1000 times, so the two
    agree to the roundoff that gathers, 1000 eps."""
    a = dlo.SGD([np.ones(2)], lr=lr0)
    b = dlo.SGD([np.ones(2)], lr=lr0)
    assert_agree(stepped(a, dls.ExponentialDecayLR(a, k)),
                 stepped(b, dls.ExponentialLR(b, gamma=math.exp(-k))), "rate vs factor",
                 tol=STEPS * 4 * np.finfo(float).eps)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_extras_take_last_epoch_like_torchs(name):
    """last_epoch=k continues the formula at step k + 1 from initial_lr."""
    formula = FORMULAS[name][1]
    kw = {"ExponentialDecayLR": dict(decay_rate=0.1),
          "HalvingLR": dict(step_size=3),
          "InverseTimeLR": dict(decay_rate=0.1),
          "PowerLR": dict(power=0.5)}[name]
    opt = dlo.SGD([np.zeros(1)], lr=0.3)
    first = getattr(dls, name)(opt, **kw)
    for _ in range(4):
        first.step()
    opt.lr = 123.0  # ignored: the formula starts from initial_lr
    again = getattr(dls, name)(opt, **kw, last_epoch=4)
    assert again.last_epoch == 5 and again.base_lrs == [0.3]
    assert opt.lr == pytest.approx(formula(0.3, 5, **kw), rel=1e-15)
