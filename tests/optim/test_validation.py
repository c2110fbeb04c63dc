"""Bad input raises ValueError or TypeError naming the argument, before any kernel runs."""

import inspect

import numpy as np
import pytest

import descentlab.optim as dlo

ALL = dlo.TORCH_OPTIMIZERS + dlo.EXTRAS


def make(name, params=None, **hyper):
    if params is None:
        params = [np.zeros((2, 3)), np.zeros(4)]
    return getattr(dlo, name)(params, **hyper)


def args_of(name):
    return inspect.signature(getattr(dlo, name)).parameters


def good_grads():
    return [np.ones((2, 3)), np.ones(4)]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("value", [-1e-3, float("nan"), float("inf")])
def test_bad_lr(name, value):
    with pytest.raises(ValueError, match=r"lr.*" + (r"nan" if value != value else "")):
        make(name, lr=value)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("value", ["0.1", None, True, [0.1]])
def test_lr_of_the_wrong_type(name, value):
    with pytest.raises(TypeError, match="lr"):
        make(name, lr=value)


@pytest.mark.parametrize("name", ALL)
def test_lr_is_checked_when_set_later(name):
    opt = make(name)
    with pytest.raises(ValueError, match=r"lr.*-0\.5"):
        opt.lr = -0.5
    opt.lr = 0.25  # a scheduler's assignment
    assert opt.lr == 0.25


@pytest.mark.parametrize("name", [n for n in ALL if "eps" in args_of(n)])
def test_negative_eps(name):
    with pytest.raises(ValueError, match=r"eps.*-1e-08"):
        make(name, eps=-1e-8)


@pytest.mark.parametrize("name", [n for n in ALL if "weight_decay" in args_of(n)])
def test_negative_weight_decay(name):
    with pytest.raises(ValueError, match="weight_decay"):
        make(name, weight_decay=-0.1)


@pytest.mark.parametrize("name", [n for n in ALL if "betas" in args_of(n)])
@pytest.mark.parametrize("betas, which", [((1.0, 0.999), r"betas\[0\]"), ((0.9, 1.0), r"betas\[1\]"),
                                          ((-0.1, 0.9), r"betas\[0\]"), ((0.9, 1.5), r"betas\[1\]")])
def test_betas_outside_unit_interval(name, betas, which):
    with pytest.raises(ValueError, match=which):
        make(name, betas=betas)


@pytest.mark.parametrize("name", [n for n in ALL if "betas" in args_of(n)])
@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, 0.99, 0.999), "ab"])
def test_betas_not_a_pair(name, betas):
    with pytest.raises(TypeError, match="betas"):
        make(name, betas=betas)


@pytest.mark.parametrize("hyper", [dict(nesterov=True), dict(nesterov=True, momentum=0.0),
                                   dict(nesterov=True, momentum=0.9, dampening=0.1)])
def test_nesterov_needs_momentum_and_no_dampening(hyper):
    with pytest.raises(ValueError, match="nesterov"):
        make("SGD", **hyper)


def test_nesterov_rule_holds_after_construction():
    opt = make("SGD", momentum=0.9, nesterov=True)
    opt.momentum = 0.0
    with pytest.raises(ValueError, match="nesterov"):
        opt.step(good_grads())


@pytest.mark.parametrize("name, hyper, word", [
    ("SGD", dict(momentum=-0.9), "momentum"), ("SGD", dict(dampening=1.5), "dampening"),
    ("RMSprop", dict(alpha=-0.1), "alpha"), ("RMSprop", dict(momentum=-1.0), "momentum"),
    ("Adadelta", dict(rho=1.1), "rho"), ("Adagrad", dict(lr_decay=-1.0), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("NAdam", dict(momentum_decay=-1.0), "momentum_decay"),
    ("ClassicMomentum", dict(momentum=1.0), "momentum"),
    ("LocalGains", dict(beta=1.0), "beta"), ("LocalGains", dict(gain_min=2.0), "gain_min"),
    ("LocalGains", dict(gain_max=0.5), "gain_max"), ("LocalGains", dict(gain_min=0.0), "gain_min"),
])
def test_out_of_range_hyperparameters(name, hyper, word):
    with pytest.raises(ValueError, match=word):
        make(name, **hyper)


@pytest.mark.parametrize("flag", ["amsgrad", "maximize"])
def test_flags_must_be_bool(flag):
    with pytest.raises(TypeError, match=flag):
        make("Adam", **{flag: 1})


# -- parameters ---------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("params, error, words", [
    ([np.zeros(3, np.int64)], TypeError, r"params\[0\].*int64"),
    ([np.zeros(3, np.float16)], TypeError, r"params\[0\].*float16"),
    ([np.zeros(3), np.zeros((4, 4))[:, 0]], ValueError, r"params\[1\].*contiguous"),
    ([np.zeros((4, 4)).T], ValueError, r"params\[0\].*contiguous"),
    ([[0.0, 1.0]], TypeError, r"params\[0\].*list"),
    ([], ValueError, "empty"),
    (np.zeros(3), TypeError, "list"),
    (3.0, TypeError, "params"),
])
def test_bad_params(name, params, error, words):
    with pytest.raises(error, match=words):
        make(name, params=params)


def test_read_only_params():
    a = np.zeros(3)
    a.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[0\].*read-only"):
        make("Adam", params=[a])


def test_params_that_share_memory():
    a = np.zeros(6)
    with pytest.raises(ValueError, match=r"params\[1\].*shares memory"):
        make("SGD", params=[a[:3], a[2:]])
    with pytest.raises(ValueError, match="shares memory"):
        make("SGD", params=[a, a])


def test_params_may_be_any_iterable():
    a, b = np.zeros(2), np.zeros(3)
    opt = make("SGD", params=(x for x in [a, b]), lr=1.0)
    opt.step([np.ones(2), np.ones(3)])
    assert np.array_equal(a, -np.ones(2)) and np.array_equal(b, -np.ones(3))


# -- gradients ----------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("grads, error, words", [
    ([np.ones((2, 3))], ValueError, r"grads.*1 arrays.*2 params"),
    ([np.ones((2, 3)), np.ones(4), np.ones(1)], ValueError, r"grads.*3 arrays"),
    ([np.ones((3, 2)), np.ones(4)], ValueError, r"grads\[0\].*\(3, 2\).*\(2, 3\)"),
    ([np.ones((2, 3)), np.ones(5)], ValueError, r"grads\[1\].*\(5,\)"),
    ([np.ones((2, 3)), np.ones(4, np.float32)], TypeError, r"grads\[1\].*float32.*float64"),
    ([np.ones((2, 3)), np.ones(4, np.int64)], TypeError, r"grads\[1\].*int64"),
    ([np.ones((3, 2)).T, np.ones(4)], ValueError, r"grads\[0\].*contiguous"),
    ([np.ones((2, 3)), [1.0, 1, 1, 1]], TypeError, r"grads\[1\].*list"),
    (np.ones(4), TypeError, "grads"),
])
def test_bad_grads_change_nothing(name, grads, error, words):
    opt = make(name)
    before = [p.copy() for p in opt.params]
    with pytest.raises(error, match=words):
        opt.step(grads)
    # validation happens before any update: no parameter moved
    for p, b in zip(opt.params, before):
        assert np.array_equal(p, b)


@pytest.mark.parametrize("name, key", [("Adam", "exp_avg"), ("RMSprop", "square_avg"),
                                       ("Adadelta", "acc_delta"), ("Adagrad", "sum"),
                                       ("ClassicMomentum", "velocity"), ("LocalGains", "gain")])
@pytest.mark.parametrize("bad, error", [(np.zeros(3), ValueError), (np.zeros(4, np.float32), ValueError),
                                        (np.zeros((4, 2))[:, 0], ValueError), (None, ValueError),
                                        ([0.0] * 4, TypeError)])
def test_tampered_state_is_caught_before_the_kernel(name, key, bad, error):
    opt = make(name)
    opt.state[1][key] = bad
    with pytest.raises(error, match=key):
        opt.step(good_grads())


def test_amsgrad_switched_on_later_needs_its_state():
    opt = make("Adam")
    opt.amsgrad = True
    with pytest.raises(ValueError, match="max_exp_avg_sq"):
        opt.step(good_grads())


def test_sgd_momentum_buffer_tampering():
    opt = make("SGD", momentum=0.9)
    opt.step(good_grads())
    opt.state[0]["momentum_buffer"] = np.zeros(7)
    with pytest.raises(ValueError, match="momentum_buffer"):
        opt.step(good_grads())
