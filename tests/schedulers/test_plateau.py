"""ReduceLROnPlateau against torch's, on the same metric sequences."""

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import descentlab.optim as dlo
import descentlab.schedulers as dls

from .cases import assert_agree, lockstep, lrs, metric_sequences, plateau_kwargs


@given(data=st.data(), kw=plateau_kwargs, lr=lrs, as_list=st.booleans(),
       kind=st.sampled_from(["SGD", "Adam"]))
def test_reduce_lr_on_plateau_matches_torch(data, kw, lr, as_list, kind):
    metrics = data.draw(metric_sequences(threshold=kw["threshold"],
                                         threshold_mode=kw["threshold_mode"], mode=kw["mode"]),
                        label="metrics")
    if as_list:
        kw = {**kw, "min_lr": [kw["min_lr"]]}
    trace, ours, theirs, _ = lockstep(kind, lr, lambda m, opt: m.ReduceLROnPlateau(opt, **kw),
                                      steps=len(metrics), metrics=metrics)
    lr_, torch_lr, _, _ = trace.arrays()
    assert_agree(lr_, torch_lr, "lr")
    for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        a, b = getattr(ours, key), getattr(theirs, key)
        assert a == b or (np.isnan(a) and np.isnan(b)), f"{key}: {a!r} vs torch's {b!r}"


def run(metrics, **kw):
    opt = dlo.SGD([np.zeros(1)], lr=1.0)
    sched = dls.ReduceLROnPlateau(opt, **kw)
    lrs_ = []
    for value in metrics:
        sched.step(value)
        lrs_.append(opt.lr)
    return lrs_


def test_patience_counts_bad_steps_after_the_best():
    # best at step 0; with patience 2 the third bad step in a row cuts
    assert run([1, 1, 1, 1, 1, 1, 1], patience=2, factor=0.5) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_cooldown_ignores_bad_steps_after_a_cut():
    # patience 0: every bad step cuts, except the 2 steps of cooldown after one
    assert run([1, 1, 1, 1, 1, 1, 1], patience=0, cooldown=2, factor=0.5) == \
        [1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_an_improvement_resets_the_count():
    assert run([5, 5, 4, 4, 3, 3, 3], patience=1, factor=0.5) == [1, 1, 1, 1, 1, 1, 0.5]


def test_threshold_modes():
    # from 100 with threshold 1e-2: "rel" needs below 99 (above 101 in max
    # mode), "abs" below 99.99 (above 100.01); a cut shows a step that is not
    kw = dict(patience=0, factor=0.5, threshold=1e-2)
    assert run([100.0, 99.5], threshold_mode="rel", **kw) == [1, 0.5]
    assert run([100.0, 98.9], threshold_mode="rel", **kw) == [1, 1]
    assert run([100.0, 99.5], threshold_mode="abs", **kw) == [1, 1]
    assert run([100.0, 99.995], threshold_mode="abs", **kw) == [1, 0.5]
    assert run([100.0, 100.5], mode="max", threshold_mode="rel", **kw) == [1, 0.5]
    assert run([100.0, 101.1], mode="max", threshold_mode="rel", **kw) == [1, 1]
    assert run([100.0, 100.5], mode="max", threshold_mode="abs", **kw) == [1, 1]
    assert run([100.0, 100.005], mode="max", threshold_mode="abs", **kw) == [1, 0.5]


def test_min_lr_is_a_floor_and_eps_skips_small_cuts():
    assert run([1] * 5, patience=0, factor=0.1, min_lr=0.05) == [1, 0.1, 0.05, 0.05, 0.05]
    # from 1e-7, a cut to 1e-8 changes the rate by 9e-8 > eps=1e-8; from 1e-8 it would not
    opt = dlo.SGD([np.zeros(1)], lr=1e-7)
    sched = dls.ReduceLROnPlateau(opt, patience=0, factor=0.1)
    for value in [1, 1, 1]:
        sched.step(value)
    assert opt.lr == pytest.approx(1e-8, rel=1e-15)


def test_nan_is_never_an_improvement():
    assert run([1.0, float("nan"), float("nan")], patience=1, factor=0.5) == [1, 1, 0.5]


def test_building_it_leaves_the_learning_rate_alone():
    opt = dlo.Adam([np.zeros(1)], lr=0.3)
    sched = dls.ReduceLROnPlateau(opt)
    assert opt.lr == 0.3 and sched.get_last_lr() == [0.3] and sched.last_epoch == 0
    assert not hasattr(opt, "initial_lr")


@pytest.mark.parametrize("metric", [np.float32(1.5), np.array(2.0), torch.tensor(3.0), 4])
def test_metric_can_be_a_numpy_or_torch_scalar(metric):
    opt = dlo.SGD([np.zeros(1)], lr=1.0)
    sched = dls.ReduceLROnPlateau(opt)
    sched.step(metric)
    assert sched.best == float(metric) and isinstance(sched.best, float)


def test_metrics_beyond_the_float_range_are_value_errors():
    # found by tests/fuzz: float() of a huge Fraction raised OverflowError
    from fractions import Fraction

    sched = dls.ReduceLROnPlateau(dlo.SGD([np.zeros(1)], lr=0.1))
    with pytest.raises(ValueError, match="best is too large for a float"):
        sched.is_better(0.0, Fraction(10**400, 3))
    with pytest.raises(ValueError, match="metrics is too large for a float"):
        sched.step(10**400)
    with pytest.raises(TypeError, match="a must be a number"):
        sched.is_better("0.5", 1.0)
    assert sched.is_better(0.5, 1.0) and not sched.is_better(float("nan"), 1.0)
