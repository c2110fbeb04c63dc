"""state_dict / load_state_dict: an optimizer and a scheduler saved mid-run
and restored continue bit for bit, for every scheduler."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import descentlab.optim as dlo
import descentlab.schedulers as dls

from .cases import (OPTIMIZERS, TORCH, WarmupThenDecay, cosine_kwargs, cyclic_kwargs,
                    exponential_kwargs, lambda_functions, linear_kwargs, log_uniform,
                    metric_sequences, momentum_of, multistep_kwargs, one_cycle_kwargs,
                    plateau_kwargs, step_kwargs, warm_restarts_kwargs)

MAX_STEPS = 120
kinds = st.sampled_from(["SGD", "Adam", "RMSprop"])


def _sequential(draw):
    decay = draw(st.sampled_from(["CosineAnnealingLR", "StepLR", "ExponentialLR"]))
    kw = draw({"CosineAnnealingLR": cosine_kwargs, "StepLR": step_kwargs,
               "ExponentialLR": exponential_kwargs}[decay])
    warm = draw(linear_kwargs)
    milestone = draw(st.integers(1, MAX_STEPS))
    return lambda opt: dls.SequentialLR(opt, [dls.LinearLR(opt, **warm),
                                              getattr(dls, decay)(opt, **kw)], [milestone])


def _simple(name, strategy):
    return strategy.map(lambda kw: lambda opt: getattr(dls, name)(opt, **kw))


#: name -> strategy of ``build(optimizer) -> scheduler``.  Each draw gives a
#: builder that can be called twice with the same arguments.
BUILDERS = {
    "StepLR": _simple("StepLR", step_kwargs),
    "MultiStepLR": _simple("MultiStepLR", multistep_kwargs),
    "ExponentialLR": _simple("ExponentialLR", exponential_kwargs),
    "LambdaLR": lambda_functions.map(lambda fn: lambda opt: dls.LambdaLR(opt, fn)),
    "CosineAnnealingLR": _simple("CosineAnnealingLR", cosine_kwargs),
    "CosineAnnealingWarmRestarts": _simple("CosineAnnealingWarmRestarts", warm_restarts_kwargs),
    "LinearLR": _simple("LinearLR", linear_kwargs),
    "CyclicLR": _simple("CyclicLR", cyclic_kwargs()),
    "OneCycleLR": _simple("OneCycleLR", one_cycle_kwargs(
        total_steps=st.integers(2 * MAX_STEPS, 3 * MAX_STEPS))),
    "ReduceLROnPlateau": _simple("ReduceLROnPlateau", plateau_kwargs),
    "SequentialLR": st.composite(lambda draw: _sequential(draw))(),
    "ExponentialDecayLR": _simple("ExponentialDecayLR", st.fixed_dictionaries(
        dict(decay_rate=log_uniform(1e-4, 1.0)))),
    "HalvingLR": _simple("HalvingLR", st.fixed_dictionaries(dict(step_size=st.integers(1, 50)))),
    "InverseTimeLR": _simple("InverseTimeLR", st.fixed_dictionaries(
        dict(decay_rate=log_uniform(1e-4, 1.0)))),
    "PowerLR": _simple("PowerLR", st.fixed_dictionaries(dict(power=st.floats(0.0, 1.5)))),
}
assert set(BUILDERS) == set(dls.TORCH_SCHEDULERS) | set(dls.EXTRAS)


class Run:
    """An optimizer on a small quadratic, its scheduler, and a record of
    everything a scheduler sets or a step changes."""

    def __init__(self, kind, build, params):
        self.params = [p.copy() for p in params]
        self.opt = getattr(dlo, kind)(self.params, lr=0.05, **OPTIMIZERS[kind])
        self.sched = build(self.opt)
        self.history = []

    def step(self, metric=None):
        self.opt.step([0.3 * p + 0.01 for p in self.params])
        if isinstance(self.sched, dls.ReduceLROnPlateau):
            self.sched.step(metric)
        else:
            self.sched.step()
        self.history.append((self.opt.lr, momentum_of(self.opt), self.sched.get_last_lr(),
                             [p.copy() for p in self.params]))


def _same(a, b):
    (lr1, m1, last1, p1), (lr2, m2, last2, p2) = a, b
    assert lr1 == lr2 and m1 == m2 and last1 == last2
    assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(p1, p2))


@pytest.mark.parametrize("name", sorted(BUILDERS))
@given(data=st.data(), kind=kinds, before=st.integers(0, MAX_STEPS // 2),
       after=st.integers(1, MAX_STEPS // 2), via_pickle=st.booleans(), seed=st.integers(0, 99))
def test_resume_is_bit_identical(name, data, kind, before, after, via_pickle, seed):
    build = data.draw(BUILDERS[name], label="scheduler")
    metrics = data.draw(metric_sequences(n=before + after, threshold=1e-2), label="metrics")
    params = [np.random.default_rng(seed).standard_normal(s) for s in [(3,), (2, 2)]]

    straight = Run(kind, build, params)
    for m in metrics:
        straight.step(m)

    first = Run(kind, build, params)
    for m in metrics[:before]:
        first.step(m)
    saved = (first.opt.state_dict(), first.sched.state_dict(), [p.copy() for p in first.params])
    if via_pickle:
        saved = pickle.loads(pickle.dumps(saved))
    first.step(metrics[0])  # must not leak into what was saved

    # torch's recipe: build both as at the start, then load both
    opt_state, sched_state, saved_params = saved
    resumed = Run(kind, build, saved_params)
    resumed.opt.load_state_dict(opt_state)
    resumed.sched.load_state_dict(sched_state)
    assert resumed.opt.lr == straight.history[before - 1][0] if before else True
    for m in metrics[before:]:
        resumed.step(m)

    for i, (a, b) in enumerate(zip(resumed.history, straight.history[before:])):
        _same(a, b)
    assert resumed.sched.state_dict().keys() == straight.sched.state_dict().keys()


def test_state_dict_is_a_deep_copy():
    opt = dlo.SGD([np.zeros(1)], lr=0.1)
    sched = dls.MultiStepLR(opt, [2, 4])
    state = sched.state_dict()
    state["milestones"].append(99)
    state["base_lrs"][0] = 7.0
    assert sched.milestones == [2, 4] and sched.base_lrs == [0.1]
    sched.load_state_dict(state)
    state["milestones"].append(100)
    assert sched.milestones == [2, 4, 99]


def test_a_callable_objects_attributes_are_saved_and_restored():
    """As in torch: LambdaLR saves a callable object's attributes (a plain
    function is saved as None) and writes them back when loading."""
    opt = dlo.SGD([np.zeros(1)], lr=0.1)
    sched = dls.LambdaLR(opt, WarmupThenDecay(warmup=5, rate=0.9))
    for _ in range(3):
        sched.step()
    state = pickle.loads(pickle.dumps(sched.state_dict()))
    assert state["lr_lambdas"] == [{"warmup": 5, "rate": 0.9}]

    other = WarmupThenDecay(warmup=50, rate=0.1)
    fresh = dls.LambdaLR(dlo.SGD([np.zeros(1)], lr=0.1), other)
    fresh.load_state_dict(state)
    assert (other.warmup, other.rate) == (5, 0.9) and fresh.last_epoch == 3

    plain = dls.LambdaLR(dlo.SGD([np.zeros(1)], lr=0.1), lambda e: 1.0)
    assert plain.state_dict()["lr_lambdas"] == [None]
    with pytest.raises(ValueError, match="callable object"):
        plain.load_state_dict(state)


def test_cyclic_scale_fn_object_is_saved_like_torch():
    class Halving:
        def __init__(self):
            self.base = 2.0

        def __call__(self, x):
            return self.base ** -x

    opt = dlo.SGD([np.zeros(1)], lr=0.1, momentum=0.9)
    sched = dls.CyclicLR(opt, 0.01, 0.1, step_size_up=3, scale_fn=Halving())
    state = sched.state_dict()
    assert state["_scale_fn_custom"] == {"base": 2.0}
    fn = Halving()
    fn.base = 3.0
    fresh = dls.CyclicLR(dlo.SGD([np.zeros(1)], lr=0.1, momentum=0.9), 0.01, 0.1,
                         step_size_up=3, scale_fn=fn)
    fresh.load_state_dict(state)
    assert fn.base == 2.0
    lam = dls.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 1.0)
    assert lam.state_dict()["_scale_fn_custom"] is None


@pytest.mark.parametrize("bad", [
    {"step_size": 3},                                       # keys missing
    "not a dict",
])
def test_a_bad_state_dict_changes_nothing(bad):
    opt = dlo.SGD([np.zeros(1)], lr=0.1)
    sched = dls.StepLR(opt, 3)
    sched.step()
    before = sched.state_dict()
    with pytest.raises((ValueError, TypeError)):
        sched.load_state_dict(bad)
    assert sched.state_dict() == before


def test_a_state_dict_with_values_of_the_wrong_kind_changes_nothing():
    opt = dlo.SGD([np.zeros(1)], lr=0.1)
    sched = dls.StepLR(opt, 3)
    before = sched.state_dict()
    for key, value in [("gamma", "0.1"), ("base_lrs", ["0.1"]), ("last_epoch", None),
                       ("last_epoch", 2.5), ("step_size", True)]:
        with pytest.raises(ValueError, match=key):
            sched.load_state_dict({**before, key: value})
        assert sched.state_dict() == before
    other = dls.CosineAnnealingLR(dlo.SGD([np.zeros(1)], lr=0.1), 10).state_dict()
    with pytest.raises(ValueError, match="missing"):
        sched.load_state_dict(other)


def test_sequential_checks_every_part_before_loading():
    def make():
        opt = dlo.SGD([np.zeros(1)], lr=0.1)
        return dls.SequentialLR(opt, [dls.LinearLR(opt), dls.StepLR(opt, 3)], [5])

    sched = make()
    state = sched.state_dict()
    state["_schedulers"][1] = {"nonsense": 1}
    fresh = make()
    before = fresh.state_dict()
    with pytest.raises(ValueError):
        fresh.load_state_dict(state)
    assert fresh.state_dict() == before


#: keys ours has that torch's state_dict lacks: OneCycleLR keeps in itself
#: what torch keeps in the optimizer's param_group.
OURS_ONLY = {"OneCycleLR": {"max_lrs", "min_lrs", "base_momentums", "max_momentums"}}
#: torch's bookkeeping for warnings and its epoch-argument path, which we lack.
TORCH_ONLY = {"_get_lr_called_within_step", "_is_initial", "_step_count"}


@pytest.mark.parametrize("name", dls.TORCH_SCHEDULERS)
def test_state_dict_keys_are_torchs(name):
    build = {
        "StepLR": lambda m, o: m.StepLR(o, 3),
        "MultiStepLR": lambda m, o: m.MultiStepLR(o, [3, 5]),
        "ExponentialLR": lambda m, o: m.ExponentialLR(o, 0.9),
        "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 1.0),
        "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, 10),
        "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, 10, 2),
        "LinearLR": lambda m, o: m.LinearLR(o),
        "CyclicLR": lambda m, o: m.CyclicLR(o, 0.01, 0.1),
        "OneCycleLR": lambda m, o: m.OneCycleLR(o, 0.1, total_steps=10),
        "ReduceLROnPlateau": lambda m, o: m.ReduceLROnPlateau(o),
        "SequentialLR": lambda m, o: m.SequentialLR(o, [m.LinearLR(o), m.StepLR(o, 3)], [5]),
    }[name]
    ours = build(dls, dlo.SGD([np.zeros(1)], lr=0.1, momentum=0.9)).state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = build(TORCH, torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1,
                                              momentum=0.9)).state_dict()
    assert set(ours) - set(theirs) == OURS_ONLY.get(name, set())
    assert set(theirs) - set(ours) <= TORCH_ONLY
    for key in set(ours) & set(theirs) - {"_schedulers", "milestones", "lr_lambdas",
                                          "_scale_fn_custom"}:
        assert ours[key] == theirs[key] or copy.deepcopy(ours[key]) == list(theirs[key]), key


def _sgd():
    return dlo.SGD([np.zeros(1)], lr=0.1, momentum=0.9)


# Values of the right kind that the schedule cannot step from; found by
# tests/fuzz, each used to load silently and fail at the next step() with
# ZeroDivisionError, IndexError, AssertionError or AttributeError.
@pytest.mark.parametrize("build, key, value, fragment", [
    (lambda: dls.StepLR(_sgd(), 3), "step_size", 0, "ZeroDivisionError"),
    (lambda: dls.HalvingLR(_sgd(), 3), "step_size", 0, "ZeroDivisionError"),
    (lambda: dls.LinearLR(_sgd()), "start_factor", 0.0, "ZeroDivisionError"),
    (lambda: dls.CosineAnnealingLR(_sgd(), 10), "base_lrs", [], r"'base_lrs'\] must hold one"),
    (lambda: dls.LambdaLR(_sgd(), lambda t: 1.0), "base_lrs", [], "must hold one value"),
    (lambda: dls.CyclicLR(_sgd(), 0.01, 0.1), "max_lrs", [], r"'max_lrs'\] must hold one"),
    (lambda: dls.CyclicLR(_sgd(), 0.01, 0.1), "use_beta1", True, "cycles betas, which SGD"),
    (lambda: dls.OneCycleLR(_sgd(), 0.1, total_steps=10), "_schedule_phases", [],
     "cannot step"),
    (lambda: dls.ReduceLROnPlateau(_sgd()), "min_lrs", [], r"'min_lrs'\] must hold one"),
    (lambda: dls.ExponentialLR(_sgd(), 0.9), "base_lrs", [-0.1], r"'base_lrs'\]\[0\] must be"),
    (lambda: dls.ExponentialLR(_sgd(), 0.9), "last_epoch", -5, "last_epoch'] must be >= -1"),
])
def test_a_state_the_schedule_cannot_step_from_is_refused_on_load(build, key, value, fragment):
    sched = build()
    before = sched.state_dict()
    with pytest.raises(ValueError, match=fragment):
        sched.load_state_dict({**before, key: value})
    assert sched.state_dict() == before
    # and it still steps as before
    sched.optimizer.step([np.zeros(1)])
    sched.step(1.0) if isinstance(sched, dls.ReduceLROnPlateau) else sched.step()


def test_loading_does_not_call_a_user_function():
    calls = []

    def factor(t):
        calls.append(t)
        return 1.0

    sched = dls.LambdaLR(_sgd(), factor)
    state = sched.state_dict()
    n = len(calls)
    sched.load_state_dict(state)
    assert len(calls) == n


@given(kw=warm_restarts_kwargs, fractions=st.lists(st.floats(0.0, 400.0), min_size=1,
                                                    max_size=20), after=st.integers(1, 60))
def test_warm_restarts_resume_after_fractional_epochs(kw, fractions, after):
    """After step(epoch) with a fractional epoch T_cur is a float, while a
    freshly built scheduler holds an integer: the saved state still loads,
    and the resumed run goes on as torch's uninterrupted one does."""
    def make(m, opt):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return m.CosineAnnealingWarmRestarts(opt, **kw)

    opt = dlo.SGD([np.ones(2)], lr=0.1)
    topt = torch.optim.SGD([torch.ones(2, dtype=torch.float64, requires_grad=True)], lr=0.1)
    sched, tsched = make(dls, opt), make(TORCH, topt)
    for e in sorted(fractions):
        sched.step(e)
        tsched.step(e)
    state = pickle.loads(pickle.dumps((opt.state_dict(), sched.state_dict())))
    opt2 = dlo.SGD([np.ones(2)], lr=0.1)
    sched2 = make(dls, opt2)
    assert isinstance(sched2.T_cur, int)
    opt2.load_state_dict(state[0])
    sched2.load_state_dict(state[1])
    for _ in range(after):
        sched2.step()
        tsched.step()
        assert opt2.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=0)
    assert sched2.T_cur == tsched.T_cur and sched2.T_i == tsched.T_i


def test_warm_restarts_round_trip_and_zero_periods_are_refused_on_load():
    # the dry run of a loaded state must not use _next, which this class does
    # not step through; a zero period would divide by zero at the next step
    sched = dls.CosineAnnealingWarmRestarts(_sgd(), T_0=3, T_mult=2)
    sched.optimizer.step([np.zeros(1)])
    sched.step()
    before = sched.state_dict()
    sched.load_state_dict(before)
    for key in ("T_0", "T_i", "T_mult"):
        with pytest.raises(ValueError, match=rf"state_dict\['{key}'\] must be >= 1"):
            sched.load_state_dict({**before, key: 0})
        assert sched.state_dict() == before
