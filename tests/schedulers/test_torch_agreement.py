"""Differential tests: each torch-named scheduler against torch's, step by step.

Both sides drive an optimizer of the same kind for at least 1000 steps; after
construction and after every step our ``opt.lr`` (and the cycled momentum)
must equal torch's ``param_groups[0]`` value to 1e-12 relative.  Where the
schedule has a closed form, it must equal torch's stepped values as well
(up to the roundoff between the recursive and closed forms).
"""

import inspect

import numpy as np
import pytest
import torch
from hypothesis import assume, example, given, strategies as st

import descentlab.optim as dlo
import descentlab.schedulers as dls

from .cases import (STEPS, TORCH, assert_agree, assert_closed_form, cosine_kwargs, cyclic_kwargs,
                    exponential_kwargs, lambda_functions, linear_kwargs, lockstep, lrs, Pair,
                    momentum_optimizers, multistep_kwargs, one_cycle_kwargs, step_kwargs,
                    total_steps_of, warm_restarts_kwargs)

optimizers = st.sampled_from(["SGD", "Adam"])
t = np.arange(STEPS + 1)


def check_lr(trace, closed=None):
    lr, torch_lr, _, _ = trace.arrays()
    assert_agree(lr, torch_lr, "lr", base=lr[0] if lr[0] > 0 else None)
    if closed is not None:
        assert_closed_form(closed, torch_lr, "closed form vs torch")
        assert_closed_form(closed, lr, "closed form vs ours")


@given(kw=step_kwargs, lr=lrs, kind=optimizers)
def test_step_lr(kw, lr, kind):
    trace, *_ = lockstep(kind, lr, lambda m, opt: m.StepLR(opt, **kw))
    check_lr(trace, dls.step_decay(t, lr, **kw))


@given(kw=multistep_kwargs, lr=lrs, kind=optimizers)
def test_multistep_lr(kw, lr, kind):
    trace, *_ = lockstep(kind, lr, lambda m, opt: m.MultiStepLR(opt, **kw))
    check_lr(trace, dls.multistep_decay(t, lr, **kw))


@given(kw=exponential_kwargs, lr=lrs, kind=optimizers)
def test_exponential_lr(kw, lr, kind):
    trace, *_ = lockstep(kind, lr, lambda m, opt: m.ExponentialLR(opt, **kw))
    check_lr(trace, dls.geometric_decay(t, lr, **kw))


@given(fn=lambda_functions, lr=lrs, kind=optimizers, as_list=st.booleans())
def test_lambda_lr(fn, lr, kind, as_list):
    arg = [fn] if as_list else fn
    trace, *_ = lockstep(kind, lr, lambda m, opt: m.LambdaLR(opt, arg))
    check_lr(trace, lr * np.array([float(fn(int(s))) for s in t]))


@given(kw=cosine_kwargs, lr=lrs, kind=optimizers)
def test_cosine_annealing_lr(kw, lr, kind):
    trace, *_ = lockstep(kind, lr, lambda m, opt: m.CosineAnnealingLR(opt, **kw))
    lr_, torch_lr, _, _ = trace.arrays()
    assert_agree(lr_, torch_lr, "lr")
    closed = dls.cosine_annealing(t, lr, **kw)
    T = kw["T_max"]
    assert_closed_form(closed[:T + 1], torch_lr[:T + 1], "down to the first trough")
    # Past a trough torch's recursion divides two near-zero numbers,
    # 1 + cos(pi t/T) at one step and the next; their relative error
    # eps / (1 + cos(pi/T)) ~ eps 2T^2/pi^2 stays in every later value.
    troughs = (STEPS + T) // (2 * T)
    loss = troughs * 4 * np.finfo(float).eps * 2 * T**2 / np.pi**2
    assert_closed_form(closed, torch_lr, "the whole run", tol=max(1e-12, loss))


@given(kw=warm_restarts_kwargs, lr=lrs, kind=optimizers)
def test_cosine_annealing_warm_restarts(kw, lr, kind):
    trace, *_ = lockstep(kind, lr, lambda m, opt: m.CosineAnnealingWarmRestarts(opt, **kw))
    check_lr(trace, dls.cosine_warm_restarts(t, lr, **kw))


@st.composite
def epoch_calls(draw, n=STEPS):
    """What a training loop passes to step(): None (a plain step), or an
    epoch, integer or fractional (torch's ``epoch + i / iters``), forwards
    mostly, sometimes back."""
    calls, epoch = [], 0.0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    iters = draw(st.integers(1, 20))
    while len(calls) < n:
        kind = rng.choice(["plain", "fraction", "integer", "jump"], p=[0.3, 0.5, 0.1, 0.1])
        if kind == "plain":
            calls.append(None)
            epoch = np.floor(epoch) + 1
        elif kind == "fraction":
            epoch += 1.0 / iters
            calls.append(float(epoch))
        elif kind == "integer":
            epoch = float(int(epoch) + 1)
            calls.append(int(epoch))
        else:
            epoch = float(rng.uniform(0, 2 * epoch + 10))
            calls.append(epoch)
    return calls


@given(kw=warm_restarts_kwargs, lr=lrs, kind=optimizers, calls=epoch_calls())
def test_cosine_annealing_warm_restarts_with_epochs(kw, lr, kind, calls):
    """torch's per-batch form, scheduler.step(epoch + i / iters), mixed with
    plain steps and jumps, over 1000 calls."""
    pair = Pair(kind, lr)
    ours = dls.CosineAnnealingWarmRestarts(pair.ours, **kw)
    theirs = TORCH.CosineAnnealingWarmRestarts(pair.theirs, **kw)
    trace = [pair.values()[:2]]
    for epoch in calls:
        pair.step()
        ours.step(epoch)
        theirs.step(epoch)
        trace.append(pair.values()[:2])
        assert (ours.last_epoch, ours.T_i) == (theirs.last_epoch, theirs.T_i)
    lr_, torch_lr = np.array(trace).T
    assert_agree(lr_, torch_lr, "lr")
    # where the epoch is a whole number reached by plain steps from the start
    # the closed form holds too (torch's logarithm aside, see the class)
    plain = next((i for i, c in enumerate(calls) if c is not None), len(calls))
    assert_closed_form(dls.cosine_warm_restarts(np.arange(plain + 1), lr, **kw),
                       lr_[:plain + 1], "plain steps vs closed form")


def test_cosine_annealing_warm_restarts_keeps_torchs_logarithm():
    """log(1000, 10) = 2.9999999999999996: torch's step(111) lands at the end
    of the third cycle (eta_min), not at the fourth restart; so does ours,
    and the closed form, which counts cycles exactly, says base_lr."""
    pair = Pair("SGD", 0.1)
    ours = dls.CosineAnnealingWarmRestarts(pair.ours, T_0=1, T_mult=10, eta_min=0.01)
    theirs = TORCH.CosineAnnealingWarmRestarts(pair.theirs, T_0=1, T_mult=10, eta_min=0.01)
    ours.step(111)
    theirs.step(111)
    assert pair.ours.lr == pair.theirs.param_groups[0]["lr"] == pytest.approx(0.01, rel=1e-12)
    assert dls.cosine_warm_restarts(111, 0.1, T_0=1, T_mult=10, eta_min=0.01) == \
        pytest.approx(0.1, rel=1e-14)


@given(kw=linear_kwargs, lr=lrs, kind=optimizers)
def test_linear_lr(kw, lr, kind):
    trace, *_ = lockstep(kind, lr, lambda m, opt: m.LinearLR(opt, **kw))
    lr_, torch_lr, _, _ = trace.arrays()
    assert_agree(lr_, torch_lr, "lr", base=lr)
    closed = dls.linear_ramp(t, lr, **kw)
    assert_closed_form(closed, torch_lr, "closed form vs torch")
    assert_closed_form(closed, lr_, "closed form vs ours")


@given(kw=cyclic_kwargs(), lr=lrs, kind=momentum_optimizers, adagrad=st.booleans())
def test_cyclic_lr(kw, lr, kind, adagrad):
    if adagrad and not kw["cycle_momentum"]:
        kind = "Adagrad"  # no momentum at all, which is fine without cycling
    trace, ours, theirs, pair = lockstep(kind, lr, lambda m, opt: m.CyclicLR(opt, **kw))
    lr_, torch_lr, m, torch_m = trace.arrays()
    assert_agree(lr_, torch_lr, "lr")
    assert_agree(m, torch_m, "momentum")
    shape = {k: kw[k] for k in ("step_size_up", "step_size_down", "mode", "gamma", "scale_fn",
                                "scale_mode") if k in kw}
    assert_closed_form(dls.cyclic(t, kw["base_lr"], kw["max_lr"], **shape), torch_lr, "lr")
    if kw["cycle_momentum"]:
        # the momentum is the same curve with its bounds swapped, and really cycles
        closed = dls.cyclic(t, kw["max_momentum"], kw["base_momentum"], **shape)
        assert_closed_form(closed, torch_m, "momentum")
        assert m[0] == kw["max_momentum"]
    elif kind != "Adagrad":
        assert np.all(m == m[0])


def check_one_cycle(trace, kw, T):
    """Ours against torch, and the closed forms against both.

    One step is special: step T, past the end of the last phase.  With the
    linear ramp torch extrapolates there (below min_lr, often below zero),
    and ours holds the ramp's end values instead (see OneCycleLR).
    """
    lr, torch_lr, m, torch_m = trace.arrays()
    shape = {k: kw[k] for k in ("pct_start", "anneal_strategy", "three_phase")}
    tt = np.arange(T + 1)
    closed_lr = dls.one_cycle(tt, kw["max_lr"], T, div_factor=kw.get("div_factor", 25.0),
                              final_div_factor=kw.get("final_div_factor", 1e4), **shape)
    closed_m = dls.one_cycle_momentum(tt, T, base_momentum=kw.get("base_momentum", 0.85),
                                      max_momentum=kw.get("max_momentum", 0.95), **shape)
    n = T if kw["anneal_strategy"] == "linear" else T + 1
    assert_agree(lr[:n], torch_lr[:n], "lr")
    assert_closed_form(closed_lr[:n], torch_lr[:n], "closed-form lr vs torch")
    assert_closed_form(closed_lr, lr, "closed-form lr vs ours")
    if kw.get("cycle_momentum", True):
        assert_agree(m[:n], torch_m[:n], "momentum")
        assert_closed_form(closed_m[:n], torch_m[:n], "closed-form momentum vs torch")
        assert_closed_form(closed_m, m, "closed-form momentum vs ours")
    else:
        assert np.all(m == m[0])
    if n == T:
        min_lr = kw["max_lr"] / kw.get("div_factor", 25.0) / kw.get("final_div_factor", 1e4)
        assert abs(lr[T] - min_lr) <= 1e-12 * kw["max_lr"]
        assert torch_lr[T] <= lr[T]  # torch's ramp carries on down


@given(kw=one_cycle_kwargs(), kind=momentum_optimizers)
def test_one_cycle_lr(kw, kind):
    T = total_steps_of(kw)
    trace, ours, theirs, pair = lockstep(kind, 0.5, lambda m, opt: m.OneCycleLR(opt, **kw),
                                         steps=T)
    check_one_cycle(trace, kw, T)
    # one step past the cycle: torch raises, and so do we, changing nothing
    pair.step()
    with pytest.raises(ValueError, match="total steps"):
        theirs.step()
    before = (ours.last_epoch, pair.ours.lr, ours.get_last_lr())
    with pytest.raises(ValueError, match="total_steps"):
        ours.step()
    assert (ours.last_epoch, pair.ours.lr, ours.get_last_lr()) == before


@given(total_steps=st.integers(1, 60), pct_start=st.floats(0.001, 0.999),
       three_phase=st.booleans(), anneal=st.sampled_from(["cos", "linear"]), kind=optimizers)
@example(total_steps=10, pct_start=0.1, three_phase=False, anneal="cos", kind="SGD")
@example(total_steps=4, pct_start=0.25, three_phase=True, anneal="linear", kind="Adam")
@example(total_steps=3, pct_start=0.2, three_phase=True, anneal="cos", kind="SGD")
def test_one_cycle_lr_short_cycles(total_steps, pct_start, three_phase, anneal, kind):
    """Short cycles put phase boundaries between steps, or before step 0."""
    assume(not three_phase or pct_start <= 0.5)
    kw = dict(max_lr=0.1, total_steps=total_steps, pct_start=pct_start,
              three_phase=three_phase, anneal_strategy=anneal)
    if float(pct_start * total_steps) - 1 == 0:
        # a warm-up of zero steps: torch divides by zero, we refuse up front
        pair = Pair(kind, 0.1)
        with pytest.raises(ZeroDivisionError):
            TORCH.OneCycleLR(pair.theirs, **kw)
        with pytest.raises(ValueError, match="zero steps"):
            dls.OneCycleLR(pair.ours, **kw)
        assert pair.ours.lr == 0.1
        return
    trace, *_ = lockstep(kind, 0.1, lambda m, opt: m.OneCycleLR(opt, **kw), steps=total_steps)
    check_one_cycle(trace, kw, total_steps)


# -- building on a run in progress ---------------------------------------------

resumable = {
    "StepLR": lambda m, opt: m.StepLR(opt, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, opt: m.MultiStepLR(opt, milestones=[5, 12, 30], gamma=0.3),
    "ExponentialLR": lambda m, opt: m.ExponentialLR(opt, gamma=0.97),
    "LambdaLR": lambda m, opt: m.LambdaLR(opt, lambda e: 1.0 / (1.0 + 0.1 * e)),
    "CosineAnnealingLR": lambda m, opt: m.CosineAnnealingLR(opt, T_max=13, eta_min=1e-3),
    "LinearLR": lambda m, opt: m.LinearLR(opt, start_factor=0.2, total_iters=9),
    "CosineAnnealingWarmRestarts": lambda m, opt: m.CosineAnnealingWarmRestarts(opt, 5, 2, 1e-3),
    "CyclicLR": lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, step_size_up=4, mode="triangular2"),
    "OneCycleLR": lambda m, opt: m.OneCycleLR(opt, 0.5, total_steps=200, pct_start=0.2),
}


@pytest.mark.parametrize("name", sorted(resumable))
@given(first=st.integers(0, 40), again=st.integers(0, 40))
def test_last_epoch_builds_on_the_optimizers_initial_lr(name, first, again):
    """torch's other way to resume: a new scheduler with last_epoch=k takes its
    base_lrs from the optimizer's initial_lr and starts with step k + 1."""
    build = resumable[name]
    k = first + again

    def twice(m, opt):
        s = build(m, opt)
        for _ in range(first):
            s.step()
        kw = {"last_epoch": k}
        if name == "CyclicLR":
            return m.CyclicLR(opt, 0.01, 0.1, step_size_up=4, mode="triangular2", **kw)
        if name == "OneCycleLR":
            return m.OneCycleLR(opt, 0.5, total_steps=200, pct_start=0.2, **kw)
        sig = inspect.signature(type(s))
        args = {p: getattr(s, p) for p in sig.parameters
                if p not in ("optimizer", "last_epoch", "lr_lambda") and hasattr(s, p)}
        if name == "LambdaLR":
            args["lr_lambda"] = s.lr_lambdas[0]
        return type(s)(opt, **args, **kw)

    trace, *_ = lockstep("SGD", 0.1, twice, steps=40)
    check_lr(trace)


# -- the interface is torch's --------------------------------------------------

@pytest.mark.parametrize("name", dls.TORCH_SCHEDULERS)
def test_arguments_and_defaults_are_torchs(name):
    ours = inspect.signature(getattr(dls, name)).parameters
    theirs = inspect.signature(getattr(TORCH, name)).parameters
    assert list(ours) == list(theirs), f"{name}: arguments {list(ours)} vs torch's {list(theirs)}"
    for arg, p in theirs.items():
        assert ours[arg].default == p.default, \
            f"{name}({arg}=...): default {ours[arg].default!r} vs torch's {p.default!r}"


def test_all_lists_the_torch_classes_and_the_extras():
    assert set(dls.__all__) >= set(dls.TORCH_SCHEDULERS) | set(dls.EXTRAS)
    assert set(dls.TORCH_SCHEDULERS) <= set(TORCH.__all__)
    assert not set(dls.EXTRAS) & set(TORCH.__all__)
    for name in dls.__all__:
        assert getattr(dls, name) is not None


def test_get_last_lr_is_a_list_like_torchs():
    w = np.zeros(1)
    opt = dlo.SGD([w], lr=0.1)
    tw = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.1)
    s, ts = dls.StepLR(opt, 2), TORCH.StepLR(topt, 2)
    assert s.get_last_lr() == ts.get_last_lr() == [0.1]
    assert s.base_lrs == ts.base_lrs == [0.1]
    s.get_last_lr().append(1.0)  # a copy: the scheduler is not changed
    assert s.get_last_lr() == [0.1]
