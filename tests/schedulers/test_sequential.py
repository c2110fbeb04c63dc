"""SequentialLR against torch's: warm-up then decay, and arbitrary chains."""

import functools

import numpy as np
from hypothesis import given, strategies as st

import descentlab.optim as dlo
import descentlab.schedulers as dls

from .cases import (STEPS, assert_agree, assert_closed_form, cosine_kwargs, cyclic_kwargs,
                    exponential_kwargs, lambda_functions, linear_kwargs, lockstep, lrs,
                    momentum_optimizers, multistep_kwargs, one_cycle_kwargs, step_kwargs,
                    warm_restarts_kwargs)

t = np.arange(STEPS + 1)

decays = {
    "CosineAnnealingLR": (cosine_kwargs, dls.cosine_annealing),
    "ExponentialLR": (exponential_kwargs, dls.geometric_decay),
    "StepLR": (step_kwargs, dls.step_decay),
    "MultiStepLR": (multistep_kwargs, dls.multistep_decay),
    "CosineAnnealingWarmRestarts": (warm_restarts_kwargs, dls.cosine_warm_restarts),
}


@given(data=st.data(), decay=st.sampled_from(sorted(decays)), lr=lrs,
       warmup=st.integers(1, 100), start_factor=st.floats(1e-3, 1.0),
       kind=st.sampled_from(["SGD", "Adam"]))
def test_warmup_then_decay(data, decay, lr, warmup, start_factor, kind):
    strategy, closed_form = decays[decay]
    kw = data.draw(strategy, label="decay")
    milestone = data.draw(st.integers(1, 300), label="milestone")

    def build(m, opt):
        warm = m.LinearLR(opt, start_factor=start_factor, total_iters=warmup)
        return m.SequentialLR(opt, [warm, getattr(m, decay)(opt, **kw)], milestones=[milestone])

    trace, ours, theirs, _ = lockstep(kind, lr, build)
    lr_, torch_lr, _, _ = trace.arrays()
    assert_agree(lr_, torch_lr, "lr")
    assert ours.last_epoch == theirs.last_epoch == STEPS
    closed = dls.sequential(t, [functools.partial(dls.linear_ramp, base_lr=lr,
                                                  start_factor=start_factor, total_iters=warmup),
                                functools.partial(closed_form, base_lr=lr, **kw)], [milestone])
    # The decay restarts from its closed form at the milestone, then recurses:
    # the cosine's loss of accuracy past a trough (test_torch_agreement) applies.
    tol = 1e-12
    if decay == "CosineAnnealingLR":
        T = kw["T_max"]
        tol = max(tol, ((STEPS + T) // (2 * T)) * 4 * np.finfo(float).eps * 2 * T**2 / np.pi**2)
    assert_closed_form(closed, torch_lr, "closed form vs torch", tol=tol)


def _child(draw, i, names):
    name = draw(st.sampled_from(names), label=f"schedulers[{i}]")
    strategies = {"LinearLR": linear_kwargs, "CosineAnnealingLR": cosine_kwargs,
                  "ExponentialLR": exponential_kwargs, "StepLR": step_kwargs,
                  "MultiStepLR": multistep_kwargs, "CyclicLR": cyclic_kwargs(),
                  "CosineAnnealingWarmRestarts": warm_restarts_kwargs,
                  # a cycle that outlasts the run: its last step is the one
                  # where ours departs from torch (checked in test_torch_agreement)
                  "OneCycleLR": one_cycle_kwargs(total_steps=st.integers(STEPS + 1, STEPS + 200))}
    if name == "CyclicLR-no-momentum":
        kw = {**draw(cyclic_kwargs(), label=f"schedulers[{i}] arguments"),
              "cycle_momentum": False}
        return name, kw, lambda m, opt: m.CyclicLR(opt, **kw)
    if name == "LambdaLR":
        fn = draw(lambda_functions)
        return name, {}, lambda m, opt: m.LambdaLR(opt, fn)
    kw = draw(strategies[name], label=f"schedulers[{i}] arguments")
    return name, kw, lambda m, opt: getattr(m, name)(opt, **kw)


@given(data=st.data(), lr=lrs, kind=momentum_optimizers)
def test_any_chain(data, lr, kind):
    """Chains of any length and kind, including the cyclic ones, which set
    the learning rate and momentum when built and so expose the order in
    which torch builds, resets and restarts."""
    n = data.draw(st.integers(1, 4), label="n")
    names = ["LinearLR", "CosineAnnealingLR", "ExponentialLR", "StepLR", "MultiStepLR",
             "LambdaLR", "CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts"]
    children = []
    for i in range(n):
        name, kw, build_child = _child(data.draw, i, names)
        children.append(build_child)
        if name == "OneCycleLR":
            # torch's OneCycleLR reads its bounds from the param_group, where a
            # later OneCycleLR or momentum-cycling CyclicLR overwrites them; ours
            # keeps its own (see OneCycleLR's docstring), so the two differ then
            names = [x for x in names if x != "OneCycleLR"]
            names = [x if x != "CyclicLR" else "CyclicLR-no-momentum" for x in names]
    milestones = sorted(data.draw(st.lists(st.integers(1, STEPS - 1), min_size=n - 1,
                                           max_size=n - 1, unique=True), label="milestones"))

    def build(m, opt):
        return m.SequentialLR(opt, [c(m, opt) for c in children], milestones=milestones)

    trace, *_ = lockstep(kind, lr, build)
    lr_, torch_lr, mom, torch_mom = trace.arrays()
    assert_agree(lr_, torch_lr, "lr", base=lr)
    assert_agree(mom, torch_mom, "momentum")


def test_one_scheduler_and_no_milestones_is_that_scheduler():
    w1, w2 = np.zeros(1), np.zeros(1)
    opt1, opt2 = dlo.SGD([w1], lr=0.1), dlo.SGD([w2], lr=0.1)
    seq = dls.SequentialLR(opt1, [dls.StepLR(opt1, 3, 0.5)], milestones=[])
    alone = dls.StepLR(opt2, 3, 0.5)
    for _ in range(10):
        seq.step()
        alone.step()
        assert opt1.lr == opt2.lr and seq.get_last_lr() == alone.get_last_lr()


def test_two_one_cycles_each_follow_their_own_bounds():
    """Where ours departs from torch on purpose (see OneCycleLR): a second
    OneCycleLR on the optimizer does not change the first one's bounds."""
    opt = dlo.SGD([np.zeros(1)], lr=1.0, momentum=0.9)
    first = dls.OneCycleLR(opt, max_lr=1.0, total_steps=100, div_factor=10.0,
                           base_momentum=0.8, max_momentum=0.9)
    second = dls.OneCycleLR(opt, max_lr=0.1, total_steps=100, base_momentum=0.6,
                            max_momentum=0.7)
    seq = dls.SequentialLR(opt, [first, second], milestones=[50])
    lrs_, moms = [opt.lr], [opt.momentum]
    for _ in range(80):
        seq.step()
        lrs_.append(opt.lr)
        moms.append(opt.momentum)
    expect = dls.sequential(np.arange(81), [
        functools.partial(dls.one_cycle, max_lr=1.0, total_steps=100, div_factor=10.0),
        functools.partial(dls.one_cycle, max_lr=0.1, total_steps=100)], [50])
    assert_closed_form(expect, lrs_, "lr")
    expect = dls.sequential(np.arange(81), [
        functools.partial(dls.one_cycle_momentum, total_steps=100, base_momentum=0.8,
                          max_momentum=0.9),
        functools.partial(dls.one_cycle_momentum, total_steps=100, base_momentum=0.6,
                          max_momentum=0.7)], [50])
    assert_closed_form(expect, moms, "momentum")
