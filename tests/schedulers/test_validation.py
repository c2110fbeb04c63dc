"""Bad input: a ValueError or TypeError that names the argument and the
value, raised before anything is changed."""

import re

import numpy as np
import pytest
import torch

import descentlab.optim as dlo
import descentlab.schedulers as dls


def sgd(lr=0.1, **kw):
    return dlo.SGD([np.zeros(2)], lr=lr, momentum=0.9, **kw)


def adam():
    return dlo.Adam([np.zeros(2)], lr=0.1)


def adagrad():
    return dlo.Adagrad([np.zeros(2)], lr=0.1)


def seq(milestones, n=2, make=None):
    opt = sgd()
    children = [dls.StepLR(opt, 3) for _ in range(n)] if make is None else make(opt)
    return dls.SequentialLR(opt, children, milestones)


S = dls
# (what, call, exception, words the message must contain)
CASES = [
    # StepLR
    ("step_size 0", lambda: S.StepLR(sgd(), step_size=0), ValueError, ["step_size", "0"]),
    ("step_size < 0", lambda: S.StepLR(sgd(), step_size=-3), ValueError, ["step_size", "-3"]),
    ("step_size float", lambda: S.StepLR(sgd(), step_size=2.5), TypeError, ["step_size", "2.5"]),
    ("gamma 0", lambda: S.StepLR(sgd(), 3, gamma=0.0), ValueError, ["gamma", "0.0"]),
    ("gamma < 0", lambda: S.StepLR(sgd(), 3, gamma=-0.5), ValueError, ["gamma", "-0.5"]),
    ("gamma nan", lambda: S.StepLR(sgd(), 3, gamma=float("nan")), ValueError, ["gamma", "nan"]),
    ("gamma str", lambda: S.StepLR(sgd(), 3, gamma="0.1"), TypeError, ["gamma", "'0.1'"]),
    # MultiStepLR
    ("milestones decreasing", lambda: S.MultiStepLR(sgd(), [5, 3]), ValueError,
     ["milestones", "strictly increasing", "[5, 3]"]),
    ("milestones repeated", lambda: S.MultiStepLR(sgd(), [3, 3]), ValueError,
     ["milestones", "[3, 3]"]),
    ("milestone 0", lambda: S.MultiStepLR(sgd(), [0, 4]), ValueError, ["milestones[0]", "0"]),
    ("milestone float", lambda: S.MultiStepLR(sgd(), [1.5]), TypeError, ["milestones[0]", "1.5"]),
    ("milestones not a list", lambda: S.MultiStepLR(sgd(), 5), TypeError, ["milestones", "5"]),
    ("multistep gamma", lambda: S.MultiStepLR(sgd(), [2], gamma=0), ValueError, ["gamma", "0"]),
    # ExponentialLR
    ("exponential gamma", lambda: S.ExponentialLR(sgd(), 0.0), ValueError, ["gamma", "0.0"]),
    # LambdaLR
    ("lambda not callable", lambda: S.LambdaLR(sgd(), 0.5), TypeError, ["lr_lambda", "0.5"]),
    ("two lambdas", lambda: S.LambdaLR(sgd(), [abs, abs]), ValueError, ["lr_lambda", "2"]),
    ("lambda negative", lambda: S.LambdaLR(sgd(), lambda e: -1.0), ValueError,
     ["LambdaLR", "step 0", "lr=-0.1"]),
    ("lambda returns str", lambda: S.LambdaLR(sgd(), lambda e: "x"), TypeError,
     ["lr_lambda(0)", "'x'"]),
    # CosineAnnealingLR
    ("T_max 0", lambda: S.CosineAnnealingLR(sgd(), 0), ValueError, ["T_max", "0"]),
    ("T_max < 0", lambda: S.CosineAnnealingLR(sgd(), -10), ValueError, ["T_max", "-10"]),
    ("eta_min < 0", lambda: S.CosineAnnealingLR(sgd(), 10, eta_min=-1e-3), ValueError,
     ["eta_min", "-0.001"]),
    # CosineAnnealingWarmRestarts
    ("T_0 0", lambda: S.CosineAnnealingWarmRestarts(sgd(), 0), ValueError, ["T_0", "0"]),
    ("T_0 float", lambda: S.CosineAnnealingWarmRestarts(sgd(), 10.0), TypeError,
     ["T_0", "10.0"]),
    ("T_mult 0", lambda: S.CosineAnnealingWarmRestarts(sgd(), 10, T_mult=0), ValueError,
     ["T_mult", "0"]),
    ("T_mult float", lambda: S.CosineAnnealingWarmRestarts(sgd(), 10, T_mult=1.5), TypeError,
     ["T_mult", "1.5"]),
    ("restarts eta_min < 0", lambda: S.CosineAnnealingWarmRestarts(sgd(), 10, eta_min=-0.5),
     ValueError, ["eta_min", "-0.5"]),
    ("restarts epoch < 0", lambda: S.CosineAnnealingWarmRestarts(sgd(), 10).step(-1),
     ValueError, ["epoch", "-1"]),
    ("restarts epoch nan", lambda: S.CosineAnnealingWarmRestarts(sgd(), 10).step(float("nan")),
     ValueError, ["epoch", "nan"]),
    ("restarts epoch str", lambda: S.CosineAnnealingWarmRestarts(sgd(), 10).step("3"),
     TypeError, ["epoch", "'3'"]),
    ("restarts state T_cur", lambda: S.CosineAnnealingWarmRestarts(sgd(), 10).load_state_dict(
        {**S.CosineAnnealingWarmRestarts(sgd(), 10).state_dict(), "T_cur": "2"}), ValueError,
     ["T_cur", "'2'"]),
    ("closed form T_mult", lambda: S.cosine_warm_restarts(3, 0.1, 10, T_mult=0), ValueError,
     ["T_mult", "0"]),
    # LinearLR
    ("start_factor 0", lambda: S.LinearLR(sgd(), start_factor=0.0), ValueError,
     ["start_factor", "0.0"]),
    ("start_factor > 1", lambda: S.LinearLR(sgd(), start_factor=1.5), ValueError,
     ["start_factor", "1.5"]),
    ("end_factor > 1", lambda: S.LinearLR(sgd(), end_factor=1.5), ValueError,
     ["end_factor", "1.5"]),
    ("end_factor < 0", lambda: S.LinearLR(sgd(), end_factor=-0.1), ValueError,
     ["end_factor", "-0.1"]),
    ("total_iters 0", lambda: S.LinearLR(sgd(), total_iters=0), ValueError, ["total_iters", "0"]),
    # CyclicLR
    ("cyclic mode", lambda: S.CyclicLR(sgd(), 0.01, 0.1, mode="triangle"), ValueError,
     ["mode", "'triangle'"]),
    ("cyclic scale_mode", lambda: S.CyclicLR(sgd(), 0.01, 0.1, scale_fn=abs, scale_mode="epoch"),
     ValueError, ["scale_mode", "'epoch'"]),
    ("step_size_up 0", lambda: S.CyclicLR(sgd(), 0.01, 0.1, step_size_up=0), ValueError,
     ["step_size_up", "0"]),
    ("step_size_down < 0", lambda: S.CyclicLR(sgd(), 0.01, 0.1, step_size_down=-2), ValueError,
     ["step_size_down", "-2"]),
    ("base_lr < 0", lambda: S.CyclicLR(sgd(), -0.01, 0.1), ValueError, ["base_lr", "-0.01"]),
    ("max_lr two groups", lambda: S.CyclicLR(sgd(), 0.01, [0.1, 0.2]), ValueError,
     ["max_lr", "2 values", "[0.1, 0.2]"]),
    ("cyclic gamma 0", lambda: S.CyclicLR(sgd(), 0.01, 0.1, mode="exp_range", gamma=0),
     ValueError, ["gamma", "0"]),
    ("scale_fn not callable", lambda: S.CyclicLR(sgd(), 0.01, 0.1, scale_fn=2), TypeError,
     ["scale_fn", "2"]),
    ("cyclic momentum on Adagrad", lambda: S.CyclicLR(adagrad(), 0.01, 0.1), ValueError,
     ["cycle_momentum", "Adagrad"]),
    ("cyclic beta1 >= 1", lambda: S.CyclicLR(adam(), 0.01, 0.1, max_momentum=1.0), ValueError,
     ["max_momentum", "1.0", "betas"]),
    ("cyclic momentum < 0", lambda: S.CyclicLR(sgd(), 0.01, 0.1, base_momentum=-0.5),
     ValueError, ["base_momentum", "-0.5"]),
    ("cycle_momentum not bool", lambda: S.CyclicLR(sgd(), 0.01, 0.1, cycle_momentum="yes"),
     TypeError, ["cycle_momentum", "'yes'"]),
    # OneCycleLR
    ("pct_start 0", lambda: S.OneCycleLR(sgd(), 0.1, 100, pct_start=0.0), ValueError,
     ["pct_start", "0.0"]),
    ("pct_start 1", lambda: S.OneCycleLR(sgd(), 0.1, 100, pct_start=1.0), ValueError,
     ["pct_start", "1.0"]),
    ("pct_start > 1", lambda: S.OneCycleLR(sgd(), 0.1, 100, pct_start=1.2), ValueError,
     ["pct_start", "1.2"]),
    ("pct_start < 0", lambda: S.OneCycleLR(sgd(), 0.1, 100, pct_start=-0.1), ValueError,
     ["pct_start", "-0.1"]),
    ("three phases past half", lambda: S.OneCycleLR(sgd(), 0.1, 100, pct_start=0.6,
                                                   three_phase=True),
     ValueError, ["pct_start", "0.6", "three_phase"]),
    ("zero-step phase", lambda: S.OneCycleLR(sgd(), 0.1, 10, pct_start=0.1), ValueError,
     ["pct_start", "0.1", "total_steps", "zero steps"]),
    ("total_steps 0", lambda: S.OneCycleLR(sgd(), 0.1, total_steps=0), ValueError,
     ["total_steps", "0"]),
    ("total_steps < 0", lambda: S.OneCycleLR(sgd(), 0.1, total_steps=-5), ValueError,
     ["total_steps", "-5"]),
    ("epochs 0", lambda: S.OneCycleLR(sgd(), 0.1, epochs=0, steps_per_epoch=10), ValueError,
     ["epochs", "0"]),
    ("steps_per_epoch 0", lambda: S.OneCycleLR(sgd(), 0.1, epochs=3, steps_per_epoch=0),
     ValueError, ["steps_per_epoch", "0"]),
    ("no length", lambda: S.OneCycleLR(sgd(), 0.1, epochs=3), ValueError,
     ["total_steps", "epochs", "steps_per_epoch"]),
    ("anneal_strategy", lambda: S.OneCycleLR(sgd(), 0.1, 100, anneal_strategy="cosine"),
     ValueError, ["anneal_strategy", "'cosine'"]),
    ("div_factor 0", lambda: S.OneCycleLR(sgd(), 0.1, 100, div_factor=0), ValueError,
     ["div_factor", "0"]),
    ("final_div_factor < 0", lambda: S.OneCycleLR(sgd(), 0.1, 100, final_div_factor=-1.0),
     ValueError, ["final_div_factor", "-1.0"]),
    ("max_lr < 0", lambda: S.OneCycleLR(sgd(), -0.1, 100), ValueError, ["max_lr", "-0.1"]),
    ("one cycle momentum on Adagrad", lambda: S.OneCycleLR(adagrad(), 0.1, 100), ValueError,
     ["cycle_momentum", "Adagrad"]),
    # ReduceLROnPlateau
    ("factor 1", lambda: S.ReduceLROnPlateau(sgd(), factor=1.0), ValueError, ["factor", "1.0"]),
    ("factor > 1", lambda: S.ReduceLROnPlateau(sgd(), factor=2.0), ValueError, ["factor", "2.0"]),
    ("factor 0", lambda: S.ReduceLROnPlateau(sgd(), factor=0.0), ValueError, ["factor", "0.0"]),
    ("plateau mode", lambda: S.ReduceLROnPlateau(sgd(), mode="minimum"), ValueError,
     ["mode", "'minimum'"]),
    ("threshold_mode", lambda: S.ReduceLROnPlateau(sgd(), threshold_mode="relative"),
     ValueError, ["threshold_mode", "'relative'"]),
    ("patience < 0", lambda: S.ReduceLROnPlateau(sgd(), patience=-1), ValueError,
     ["patience", "-1"]),
    ("cooldown < 0", lambda: S.ReduceLROnPlateau(sgd(), cooldown=-2), ValueError,
     ["cooldown", "-2"]),
    ("min_lr < 0", lambda: S.ReduceLROnPlateau(sgd(), min_lr=-1e-3), ValueError,
     ["min_lr", "-0.001"]),
    ("min_lr two groups", lambda: S.ReduceLROnPlateau(sgd(), min_lr=[0.0, 0.1]), ValueError,
     ["min_lr", "2 values"]),
    ("threshold < 0", lambda: S.ReduceLROnPlateau(sgd(), threshold=-1e-4), ValueError,
     ["threshold", "-0.0001"]),
    ("eps < 0", lambda: S.ReduceLROnPlateau(sgd(), eps=-1.0), ValueError, ["eps", "-1.0"]),
    ("metric str", lambda: S.ReduceLROnPlateau(sgd()).step("0.5"), TypeError,
     ["metrics", "'0.5'"]),
    ("metric None", lambda: S.ReduceLROnPlateau(sgd()).step(None), TypeError,
     ["metrics", "NoneType"]),
    ("metric vector", lambda: S.ReduceLROnPlateau(sgd()).step(np.ones(3)), TypeError,
     ["metrics", "ndarray"]),
    # SequentialLR
    ("no schedulers", lambda: S.SequentialLR(sgd(), [], []), ValueError, ["schedulers", "empty"]),
    ("milestone count", lambda: seq([3, 6]), ValueError, ["milestones", "2", "2 schedulers"]),
    ("sequential milestones", lambda: seq([4, 4], n=3), ValueError, ["milestones", "[4, 4]"]),
    ("plateau in a sequence", lambda: seq([3], make=lambda o: [S.StepLR(o, 3),
                                                               S.ReduceLROnPlateau(o)]),
     ValueError, ["schedulers[1]", "ReduceLROnPlateau"]),
    ("another optimizer", lambda: seq([3], make=lambda o: [S.StepLR(o, 3), S.StepLR(sgd(), 3)]),
     ValueError, ["schedulers[1]", "optimizer"]),
    ("not a scheduler", lambda: seq([3], make=lambda o: [S.StepLR(o, 3), "StepLR"]), TypeError,
     ["schedulers[1]", "str"]),
    ("a bare scheduler", lambda: S.SequentialLR(sgd(), S.StepLR(sgd(), 3), []), TypeError,
     ["schedulers", "list"]),
    ("nested", lambda: seq([3], make=lambda o: [S.StepLR(o, 3), S.SequentialLR(
        o, [S.StepLR(o, 2)], [])]), ValueError, ["schedulers[1]", "SequentialLR"]),
    # last_epoch
    ("last_epoch < -1", lambda: S.StepLR(sgd(), 3, last_epoch=-2), ValueError,
     ["last_epoch", "-2"]),
    ("last_epoch float", lambda: S.StepLR(sgd(), 3, last_epoch=1.0), TypeError,
     ["last_epoch", "1.0"]),
    ("last_epoch on a fresh optimizer", lambda: S.StepLR(sgd(), 3, last_epoch=5), ValueError,
     ["last_epoch=5", "initial_lr"]),
    # extras
    ("decay_rate < 0", lambda: S.ExponentialDecayLR(sgd(), -0.1), ValueError,
     ["decay_rate", "-0.1"]),
    ("inverse decay_rate inf", lambda: S.InverseTimeLR(sgd(), float("inf")), ValueError,
     ["decay_rate", "inf"]),
    ("halving step_size 0", lambda: S.HalvingLR(sgd(), 0), ValueError, ["step_size", "0"]),
    ("power < 0", lambda: S.PowerLR(sgd(), -0.3), ValueError, ["power", "-0.3"]),
    # closed forms
    ("t < 0", lambda: S.cosine_annealing(-1, 0.1, 10), ValueError, ["t", "-1"]),
    ("t nan", lambda: S.step_decay(np.array([0.0, np.nan]), 0.1, 3), ValueError, ["t", "nan"]),
    ("t str", lambda: S.halving("3", 0.1, 2), TypeError, ["t", "'3'"]),
    ("t bool", lambda: S.inverse_time(True, 0.1, 0.5), TypeError, ["t", "True"]),
    ("t past the cycle", lambda: S.one_cycle(np.arange(12), 0.1, 10), ValueError,
     ["t", "total_steps=10", "11"]),
    ("closed form base_lr", lambda: S.power_decay(3, -0.1, 0.5), ValueError, ["base_lr", "-0.1"]),
    ("closed form T_max", lambda: S.cosine_annealing(3, 0.1, 0), ValueError, ["T_max", "0"]),
    ("closed form milestones", lambda: S.multistep_decay(3, 0.1, [4, 2]), ValueError,
     ["milestones", "[4, 2]"]),
    ("sequential count", lambda: S.sequential(3, [abs, abs], []), ValueError,
     ["milestones", "0 milestones", "2 schedules"]),
    ("sequential not callable", lambda: S.sequential(3, [abs, 1], [2]), TypeError,
     ["schedules[1]", "1"]),
]


@pytest.mark.parametrize("what, call, exc, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named(what, call, exc, words):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{what}: {word!r} not in {message!r}"


ALL = [*dls.TORCH_SCHEDULERS, *dls.EXTRAS]
ARGS = {"StepLR": (3,), "MultiStepLR": ([3],), "ExponentialLR": (0.9,), "LambdaLR": (abs,),
        "CosineAnnealingLR": (10,), "CosineAnnealingWarmRestarts": (10,), "LinearLR": (),
        "CyclicLR": (0.01, 0.1),
        "OneCycleLR": (0.1, 10), "ReduceLROnPlateau": (), "SequentialLR": ([], []),
        "ExponentialDecayLR": (0.1,), "HalvingLR": (3,), "InverseTimeLR": (0.1,),
        "PowerLR": (0.5,)}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("optimizer", [
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), None, "SGD"])
def test_optimizer_must_be_a_descentlab_optimizer(name, optimizer):
    with pytest.raises(TypeError, match=re.escape(f"{name}: optimizer must be a descentlab")):
        getattr(dls, name)(optimizer, *ARGS[name])


def test_a_failed_build_changes_nothing():
    opt = sgd()
    for bad in [lambda: dls.CyclicLR(opt, 0.01, 0.1, mode="bogus"),
                lambda: dls.OneCycleLR(opt, 0.1, 100, anneal_strategy="bogus"),
                lambda: dls.CyclicLR(opt, 0.01, 0.1, max_momentum=-1.0)]:
        with pytest.raises(ValueError):
            bad()
    assert (opt.lr, opt.momentum) == (0.1, 0.9) and "initial_lr" not in vars(opt)


def test_a_refused_step_changes_nothing():
    opt = sgd()
    sched = dls.LambdaLR(opt, lambda e: 1.0 if e < 3 else -1.0)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="step 3"):
        sched.step()
    assert sched.last_epoch == 2 and opt.lr == 0.1 and sched.get_last_lr() == [0.1]


def test_stepping_one_cycle_past_total_steps():
    opt = sgd()
    sched = dls.OneCycleLR(opt, 0.1, total_steps=5)
    for _ in range(5):
        sched.step()
    lr, momentum = opt.lr, opt.momentum
    with pytest.raises(ValueError, match="tried to step 6 times, but total_steps is 5"):
        sched.step()
    assert (sched.last_epoch, opt.lr, opt.momentum) == (5, lr, momentum)


def test_an_optimizer_rejects_a_bad_value_set_by_hand():
    """The scheduler writes through the optimizer's validated attributes."""
    opt = adam()
    sched = dls.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 20.0, base_momentum=0.5,
                         max_momentum=0.9, step_size_up=2)
    with pytest.raises(ValueError, match="betas"):
        sched.step()  # beta1 = 0.9 - 0.4 * 0.5 * 20 < 0
