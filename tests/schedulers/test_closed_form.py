"""The closed forms: landmarks of each schedule worked out by hand, and the
behaviour of the functions on scalars and arrays.  (That each equals its
stepped scheduler, and torch's, is in test_torch_agreement and test_extras.)"""

import functools
import math

import numpy as np
import pytest

import descentlab.schedulers as dls

rel = functools.partial(pytest.approx, rel=1e-14)


def test_step_decay_drops_at_multiples_of_step_size():
    assert list(dls.step_decay([0, 2, 3, 5, 6, 9], 1.0, step_size=3, gamma=0.5)) == \
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.125]


def test_multistep_decay_drops_at_each_milestone():
    assert list(dls.multistep_decay([0, 4, 5, 9, 10, 50], 2.0, [5, 10], gamma=0.1)) == \
        [2.0, 2.0, rel(0.2), rel(0.2), rel(0.02), rel(0.02)]


def test_geometric_decay():
    assert dls.geometric_decay(3, 2.0, 0.5) == 0.25


def test_cosine_annealing_landmarks():
    f = functools.partial(dls.cosine_annealing, base_lr=0.1, T_max=100, eta_min=0.01)
    assert f(0) == rel(0.1)
    assert f(50) == rel(0.055)  # halfway: the mean of the two
    assert f(100) == rel(0.01)
    assert f(150) == rel(0.055) and f(200) == rel(0.1)  # the cosine carries on, as in torch
    assert f(25) == rel(0.01 + 0.045 * (1 + math.sqrt(0.5)))


@pytest.mark.parametrize("T_mult, restarts", [(1, [0, 10, 20, 30, 40]), (2, [0, 10, 30, 70]),
                                               (3, [0, 10, 40, 130])])
def test_cosine_warm_restarts_landmarks(T_mult, restarts):
    """Restarts at T_0 (m^k - 1)/(m - 1): back to base_lr there, the mean of
    base_lr and eta_min halfway through each cycle, a hair above eta_min
    just before the next restart."""
    f = functools.partial(dls.cosine_warm_restarts, base_lr=0.1, T_0=10, T_mult=T_mult,
                          eta_min=0.01)
    for start, end in zip(restarts, restarts[1:]):
        T_i = end - start
        assert f(start) == rel(0.1)
        assert f(start + T_i / 2) == rel(0.055)
        assert f(end - 1) == rel(0.01 + 0.045 * (1 + math.cos(math.pi * (T_i - 1) / T_i)))
        assert f(end - 1) > 0.01
    assert f(restarts[1] + 2.5) == rel(0.01 + 0.045 * (1 + math.cos(math.pi * 2.5 / (10 * T_mult))))


def test_linear_ramp_landmarks():
    f = functools.partial(dls.linear_ramp, base_lr=0.3, start_factor=0.1, end_factor=0.9,
                          total_iters=8)
    assert f(0) == rel(0.03) and f(4) == rel(0.15) and f(8) == rel(0.27) and f(80) == rel(0.27)


@pytest.mark.parametrize("down", [None, 6])
def test_cyclic_triangle(down):
    f = functools.partial(dls.cyclic, base_lr=0.1, max_lr=0.5, step_size_up=4,
                          step_size_down=down)
    d = down or 4
    assert f(0) == rel(0.1) and f(2) == rel(0.3) and f(4) == rel(0.5)
    assert f(4 + d / 2) == rel(0.3) and f(4 + d) == rel(0.1) and f(8 + d) == rel(0.5)


def test_cyclic_triangular2_halves_each_cycle_and_exp_range_decays_per_step():
    tri2 = functools.partial(dls.cyclic, base_lr=0.0, max_lr=1.0, step_size_up=5,
                             mode="triangular2")
    assert [tri2(5), tri2(15), tri2(25)] == [rel(1.0), rel(0.5), rel(0.25)]
    exp = functools.partial(dls.cyclic, base_lr=0.0, max_lr=1.0, step_size_up=5,
                            mode="exp_range", gamma=0.9)
    assert exp(5) == rel(0.9 ** 5) and exp(15) == rel(0.9 ** 15)


def test_cyclic_custom_scale_fn_of_cycle_or_iterations():
    cycle = dls.cyclic(5, 0.0, 1.0, step_size_up=5, scale_fn=lambda c: 1 / c)
    assert cycle == rel(1.0)
    assert dls.cyclic(15, 0.0, 1.0, step_size_up=5, scale_fn=lambda c: 1 / c) == rel(0.5)
    iters = dls.cyclic(15, 0.0, 1.0, step_size_up=5, scale_fn=lambda x: 1 / x,
                       scale_mode="iterations")
    assert iters == rel(1 / 15)


def test_one_cycle_landmarks():
    f = functools.partial(dls.one_cycle, max_lr=1.0, total_steps=101, pct_start=0.3,
                          div_factor=10.0, final_div_factor=100.0)
    peak = 0.3 * 101 - 1  # torch's end of the warm-up: step 29.3
    assert f(0) == rel(0.1)
    assert f(peak) == rel(1.0)
    assert f(100) == rel(0.001)
    assert f(peak / 2) == rel(0.55)  # cosine: halfway up is the mean
    lin = functools.partial(f, anneal_strategy="linear")
    assert lin(peak / 2) == rel(0.55) and lin(peak + (100 - peak) / 4) == rel(1 - 0.999 / 4)


def test_one_cycle_three_phases_come_back_down_before_annealing():
    f = functools.partial(dls.one_cycle, max_lr=1.0, total_steps=100, pct_start=0.25,
                          div_factor=4.0, final_div_factor=100.0, three_phase=True)
    assert f(0) == rel(0.25) and f(24) == rel(1.0) and f(48) == rel(0.25)
    assert f(99) == rel(0.0025)


def test_one_cycle_momentum_moves_against_the_rate():
    m = functools.partial(dls.one_cycle_momentum, total_steps=101, pct_start=0.3,
                          base_momentum=0.8, max_momentum=0.9)
    assert m(0) == rel(0.9) and m(0.3 * 101 - 1) == rel(0.8) and m(100) == rel(0.9)


def test_cyclic_momentum_is_the_lr_curve_with_bounds_swapped_exactly():
    t = np.arange(200)
    kw = dict(step_size_up=7, step_size_down=5, mode="triangular2")
    lr = dls.cyclic(t, 0.2, 0.9, **kw)
    m = dls.cyclic(t, 0.9, 0.2, **kw)
    # max - (max - base) h s, which is what the scheduler computes
    h = (lr - 0.2) / 0.7
    np.testing.assert_allclose(m, 0.9 - 0.7 * h, rtol=1e-14)


def test_sequential_restarts_each_schedule_at_its_milestone():
    f = functools.partial(dls.sequential, schedules=[
        functools.partial(dls.linear_ramp, base_lr=1.0, start_factor=0.5, total_iters=4),
        functools.partial(dls.step_decay, base_lr=1.0, step_size=2, gamma=0.5)],
        milestones=[4])
    assert list(f(np.arange(9))) == [0.5, 0.625, 0.75, 0.875, 1.0, 1.0, 0.5, 0.5, 0.25]


def test_extras_landmarks():
    assert dls.exponential_decay(10, 1.0, math.log(2) / 10) == rel(0.5)
    assert dls.halving([0, 4, 5, 10], 1.0, 5).tolist() == [1.0, 1.0, 0.5, 0.25]
    assert dls.inverse_time(20, 0.2, 0.05) == rel(0.1)
    assert dls.power_decay([0, 3], 0.1, 0.5).tolist() == [rel(0.1), rel(0.05)]


SHAPES = {
    "step_decay": dict(base_lr=0.1, step_size=7),
    "multistep_decay": dict(base_lr=0.1, milestones=[3, 30]),
    "geometric_decay": dict(base_lr=0.1, gamma=0.97),
    "cosine_annealing": dict(base_lr=0.1, T_max=40, eta_min=1e-3),
    "cosine_warm_restarts": dict(base_lr=0.1, T_0=7, T_mult=2, eta_min=1e-3),
    "linear_ramp": dict(base_lr=0.1, total_iters=20),
    "cyclic": dict(base_lr=0.01, max_lr=0.1, step_size_up=9, mode="exp_range", gamma=0.99),
    "one_cycle": dict(max_lr=0.1, total_steps=100, three_phase=True),
    "one_cycle_momentum": dict(total_steps=100, anneal_strategy="linear"),
    "sequential": dict(schedules=[functools.partial(dls.linear_ramp, base_lr=0.1),
                                  functools.partial(dls.cosine_annealing, base_lr=0.1,
                                                    T_max=50)], milestones=[5]),
    "exponential_decay": dict(base_lr=0.1, decay_rate=0.02),
    "halving": dict(base_lr=0.1, step_size=9),
    "inverse_time": dict(base_lr=0.1, decay_rate=0.3),
    "power_decay": dict(base_lr=0.1, power=0.55),
}
assert set(SHAPES) == set(dls.CLOSED_FORMS)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_vectorised_over_any_shape_and_a_float_for_a_scalar(name):
    f = functools.partial(getattr(dls, name), **SHAPES[name])
    t = np.arange(100).reshape(4, 25)
    out = f(t)
    assert isinstance(out, np.ndarray) and out.shape == (4, 25) and out.dtype == np.float64
    scalars = [f(int(s)) for s in t.ravel()]
    assert all(type(v) is float for v in scalars)
    np.testing.assert_allclose(out.ravel(), scalars, rtol=1e-15)
    assert f([3, 4]).shape == (2,) and f(np.array(3.0)) == f(3)
    assert f(np.zeros(0)).shape == (0,)
    mid = f(np.array([10.5]))[0]  # non-integer steps interpolate, for smooth plots
    assert np.isfinite(mid)


# found by tests/fuzz: a user's function returning an int beyond the float
# range raised OverflowError from numpy or from float arithmetic
def test_a_user_function_must_return_floats():
    import descentlab.optim as dlo

    huge = lambda t: 10**400  # noqa: E731
    with pytest.raises(ValueError, match="cyclic: scale_fn returned a number too large"):
        dls.cyclic(3, 0.01, 0.1, step_size_up=2, scale_fn=huge)
    with pytest.raises(ValueError, match=r"sequential: schedules\[0\] returned a number too large"):
        dls.sequential(3, [huge], [])
    with pytest.raises(TypeError, match=r"sequential: schedules\[1\] must return numbers"):
        dls.sequential([1, 5], [lambda t: t, lambda t: "x"], [4])
    with pytest.raises(ValueError, match=r"CyclicLR: scale_fn\(1\) is too large for a float"):
        dls.CyclicLR(dlo.SGD([np.zeros(1)], lr=0.1, momentum=0.9), 0.01, 0.1, scale_fn=huge)
    # numbers still pass through unchanged
    assert dls.sequential(3, [lambda t: 0.5 * np.ones_like(t)], []) == 0.5


def test_triangular2_decays_past_cycle_1024_without_overflow():
    # torch's 1 / 2.0 ** (x - 1) raises OverflowError from cycle 1025 on
    # (after 2050 steps with step_size_up=1); found by tests/fuzz
    import descentlab.optim as dlo

    opt = dlo.SGD([np.zeros(1)], lr=0.1, momentum=0.9)
    sched = dls.CyclicLR(opt, 0.0, 1.0, step_size_up=1, mode="triangular2")
    assert [sched.scale_fn(x) for x in (1, 2, 3, 1024)] == [1.0, 0.5, 0.25, 2.0 ** -1023]
    assert sched.scale_fn(1025) == 2.0 ** -1024 and sched.scale_fn(5000) == 0.0
    for _ in range(2060):
        opt.step([np.zeros(1)])
        sched.step()
    assert 0.0 <= opt.lr < 1e-300
    t = np.array([2049.0, 2051.0, 10**6])
    assert np.all(dls.cyclic(t, 0.0, 1.0, step_size_up=1, mode="triangular2") < 1e-300)


def test_exp_range_with_gamma_above_one_ends_in_a_named_error():
    import descentlab.optim as dlo

    opt = dlo.SGD([np.zeros(1)], lr=0.1, momentum=0.9)
    sched = dls.CyclicLR(opt, 0.01, 0.1, step_size_up=1, mode="exp_range", gamma=2.0,
                         cycle_momentum=False)
    with pytest.raises(ValueError, match="the schedule gives lr=(inf|nan)"):
        for _ in range(2000):
            sched.step()


def test_scale_fn_is_total_on_any_cycle_number():
    import descentlab.optim as dlo

    opt = dlo.SGD([np.zeros(1)], lr=0.1, momentum=0.9)
    sched = dls.CyclicLR(opt, 0.0, 1.0, mode="triangular2")
    assert sched.scale_fn(-1023.0) == math.inf  # 2**1024, beyond the float range
