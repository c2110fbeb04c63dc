"""batchnorm_forward/backward against torch's F.batch_norm and autograd."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, strategies as st

import descentlab._jit as jit
from descentlab.layers import (BatchNormCache, batchnorm_backward, batchnorm_forward,
                               dropout_forward, layernorm_forward)
from descentlab.layers import batchnorm as bn

from .cases import (NOJIT, assert_close, bits, data, dtypes, eps_values, needs_jit,
                    needs_two_threads, numerical_gradient, relative_error, with_threads,
                    without_jit)


@st.composite
def shapes(draw):
    """(N, C) or (N, C, *spatial) with up to three spatial axes."""
    spatial = draw(st.lists(st.integers(1, 4), max_size=3))
    return (draw(st.integers(1, 6)), draw(st.integers(1, 5)), *spatial)


def values_per_channel(shape):
    return shape[0] * math.prod(shape[2:])


def problem(shape, dtype, seed, ratio=0.0):
    """x with its mean ``ratio`` standard deviations from 0, per-channel
    parameters, running statistics and an upstream gradient."""
    rng = np.random.default_rng(seed)
    C = shape[1]
    scale = float(rng.uniform(0.1, 10.0))
    return dict(
        x=data(rng, shape, dtype, offset=ratio * scale, scale=scale),
        gamma=data(rng, C, dtype), beta=data(rng, C, dtype),
        running_mean=data(rng, C, dtype),
        running_var=np.asarray(rng.uniform(0.2, 3.0, C), dtype=dtype),
        dout=data(rng, shape, dtype))


def ours(p, training, momentum=0.1, eps=1e-5):
    rm, rv = p["running_mean"].copy(), p["running_var"].copy()
    out, cache = batchnorm_forward(p["x"], p["gamma"], p["beta"], rm, rv, training, momentum, eps)
    return (out, *batchnorm_backward(p["dout"], cache), rm, rv)


def torchs(p, training, momentum=0.1, eps=1e-5):
    x, gamma, beta = (torch.from_numpy(p[k].copy()).requires_grad_()
                      for k in ("x", "gamma", "beta"))
    rm, rv = torch.from_numpy(p["running_mean"].copy()), torch.from_numpy(p["running_var"].copy())
    out = F.batch_norm(x, rm, rv, gamma, beta, training, momentum, eps)
    grads = torch.autograd.grad(out, (x, gamma, beta), torch.from_numpy(p["dout"]))
    return tuple(t.detach().numpy() for t in (out, *grads, rm, rv))


NAMES = ("out", "dx", "dgamma", "dbeta", "running_mean", "running_var")


def scales(p, training, eps=1e-5):
    """The size each result is judged against (None: the size of torch's;
    dx is a difference of terms of size |gamma dy| / sigma), and the
    condition number max |x| / sigma (see cases.assert_close)."""
    x = p["x"].astype(np.float64)
    axes = (0, *range(2, x.ndim))
    var = x.var(axis=axes) if training else p["running_var"].astype(np.float64)
    size = np.abs(p["gamma"].astype(np.float64)) / np.sqrt(var + eps)
    dx = float(np.max(np.abs(p["dout"]).max(axis=axes) * size))
    condition = float(np.max(np.abs(x).max(axis=axes) / np.sqrt(var + eps)))
    return dict(dx=dx), condition


@given(shape=shapes(), dtype=dtypes, training=st.booleans(), momentum=st.floats(0.0, 1.0),
       eps=eps_values, seed=st.integers(0, 2**32 - 1), ratio=st.floats(-10.0, 10.0))
def test_forward_backward_and_running_stats_match_torch(shape, dtype, training, momentum, eps,
                                                         seed, ratio):
    assume(not training or values_per_channel(shape) > 1)
    p = problem(shape, dtype, seed, ratio)
    mine, theirs = ours(p, training, momentum, eps), torchs(p, training, momentum, eps)
    scale, condition = scales(p, training, eps)
    for name, a, t in zip(NAMES, mine, theirs):
        assert a.dtype == dtype, name
        assert_close(name, a, t, dtype, scale.get(name), condition)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [
    (3, 5, 1100),       # a channel longer than a tile: its sum spans two tiles
    (40, 1000),         # (N, D) with D split into groups of whole columns
    (2, 300, 7),        # groups of several short channels
    (2, 3, 40, 45),     # images
])
@pytest.mark.parametrize("training", [True, False])
def test_tiling_and_grouping_match_torch(shape, dtype, training):
    """Shapes that cross the kernels' tile and group boundaries (and, jitted,
    the size above which the parallel kernels run)."""
    if NOJIT:
        shape = shape[:2] + shape[2:3]  # the fallback is slow; keep the tile crossing
    p = problem(shape, dtype, seed=sum(shape), ratio=3.0)
    scale, condition = scales(p, training)
    for name, a, t in zip(NAMES, ours(p, training), torchs(p, training)):
        assert_close(name, a, t, dtype, scale.get(name), condition)


@pytest.mark.parametrize("training", [True, False])
@given(shape=shapes().filter(lambda s: math.prod(s) <= 24), seed=st.integers(0, 2**32 - 1))
def test_gradients_match_centred_differences(training, shape, seed):
    assume(not training or values_per_channel(shape) > 1)
    p = problem(shape, np.float64, seed, ratio=1.0)
    dx, dgamma, dbeta = ours(p, training)[1:4]

    def loss():
        out, _ = batchnorm_forward(p["x"], p["gamma"], p["beta"], p["running_mean"].copy(),
                                   p["running_var"].copy(), training)
        return float(np.sum(out * p["dout"]))

    for name, analytic in (("x", dx), ("gamma", dgamma), ("beta", dbeta)):
        numeric = numerical_gradient(loss, p[name])
        err = relative_error(analytic, numeric)
        assert err <= 1e-6, f"d{name}: relative error {err:.3g} against finite differences"


def test_running_stats_follow_torchs_rule_in_closed_form():
    """momentum weighs the new batch; the variance that goes in is unbiased."""
    p = problem((5, 3, 2, 2), np.float64, seed=1)
    rm, rv = p["running_mean"].copy(), p["running_var"].copy()
    batchnorm_forward(p["x"], p["gamma"], p["beta"], rm, rv, momentum=0.25)
    mean = p["x"].mean(axis=(0, 2, 3))
    var = p["x"].var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(rm, 0.75 * p["running_mean"] + 0.25 * mean, rtol=1e-13)
    np.testing.assert_allclose(rv, 0.75 * p["running_var"] + 0.25 * var, rtol=1e-13)


def test_eval_uses_running_stats_and_updates_nothing():
    p = problem((4, 3), np.float64, seed=2)
    rm, rv = p["running_mean"].copy(), p["running_var"].copy()
    out, cache = batchnorm_forward(p["x"], p["gamma"], p["beta"], rm, rv, training=False)
    assert bits(rm) == bits(p["running_mean"]) and bits(rv) == bits(p["running_var"])
    expected = p["gamma"] * (p["x"] - rm) / np.sqrt(rv + 1e-5) + p["beta"]
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
    # backward is the affine map, even if the running stats change meanwhile
    rm += 1.0
    dx, _, _ = batchnorm_backward(p["dout"], cache)
    np.testing.assert_allclose(dx, p["dout"] * p["gamma"] / np.sqrt(rv + 1e-5), rtol=1e-13)


def test_eval_accepts_read_only_running_stats():
    p = problem((4, 3), np.float32, seed=3)
    for k in ("running_mean", "running_var"):
        p[k].flags.writeable = False
    out, _ = batchnorm_forward(p["x"], p["gamma"], p["beta"], p["running_mean"],
                               p["running_var"], training=False)
    assert out.dtype == np.float32


def test_read_only_inputs_are_accepted():
    """Only the running statistics are written (in training); inputs may be read-only."""
    p = problem((4, 3, 2), np.float32, seed=11)
    expected = ours(p, True)
    for k in ("x", "gamma", "beta", "dout"):
        p[k].flags.writeable = False
    assert [bits(a) for a in ours(p, True)] == [bits(a) for a in expected]


def test_batch_of_one_is_fine_in_eval():
    p = problem((1, 3), np.float64, seed=4)
    for name, a, t in zip(NAMES, ours(p, False), torchs(p, False)):
        assert_close(name, a, t, np.float64)


# ------------------------------------------------------------ determinism

def big_problem(dtype, image):
    shape = (8, 6, 40, 40) if image else (300, 300)
    assert math.prod(shape) >= jit.PARALLEL_MIN_SIZE
    return problem(shape, dtype, seed=5, ratio=2.0)


def run_all(p):
    return [bits(a) for training in (True, False) for a in ours(p, training)]


@needs_jit
@needs_two_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("image", [False, True])
def test_result_does_not_depend_on_thread_count(dtype, image):
    p = big_problem(dtype, image)
    assert with_threads(1, lambda: run_all(p)) == with_threads(2, lambda: run_all(p))


@needs_jit
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_serial_and_parallel_kernels_agree_bit_for_bit(dtype, monkeypatch):
    p = big_problem(dtype, image=True)
    parallel = run_all(p)
    monkeypatch.setattr(jit, "PARALLEL_MIN_SIZE", 1 << 40)
    assert run_all(p) == parallel


def test_grouping_does_not_change_the_order_of_sums(monkeypatch):
    """Tasks may hold any number of channels: the bits stay the same."""
    p = problem((6, 40, 3), np.float64, seed=6, ratio=5.0)
    reference = run_all(p)
    for group in (1, 7, 40):
        monkeypatch.setattr(bn, "_group_size", lambda channels, length, g=group: g)
        assert run_all(p) == reference


def fallback_case():
    """Every code path on shapes that cross a tile, in both dtypes."""
    return [run_all(problem(shape, dtype, seed=10, ratio=2.0))
            for shape in ((3, 2, 1030), (5, 200)) for dtype in (np.float32, np.float64)]


@needs_jit
def test_python_fallback_gives_the_same_bits(tmp_path):
    """NUMBA_DISABLE_JIT=1 runs the kernels as plain Python: same answers, same bits."""
    assert without_jit("test_batchnorm", "fallback_case", tmp_path) == fallback_case()


# --------------------------------------------------------------- bad input

def call(**changes):
    p = problem((4, 3, 2, 2), np.float64, seed=7)
    args = dict(x=p["x"], gamma=p["gamma"], beta=p["beta"], running_mean=p["running_mean"],
                running_var=p["running_var"])
    args.update(changes)
    return lambda: batchnorm_forward(**args)


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


C3 = np.zeros(3)
BAD = [
    (call(x=np.zeros(3)), ValueError, "x must have at least 2 dimensions"),
    (call(x=[[1.0, 2.0, 3.0]] * 2), TypeError, "x must be a numpy array"),
    (call(x=np.zeros((4, 3), np.int64)), TypeError, "x must have dtype float32 or float64"),
    (call(x=np.zeros((3, 4)).T), ValueError, "x must be C-contiguous"),
    (call(x=np.zeros((0, 3))), ValueError, "no values"),
    (call(gamma=np.zeros(4)), ValueError, r"gamma must have shape \(3,\)"),
    (call(gamma=np.zeros((3, 1))), ValueError, "gamma must have shape"),
    (call(beta=np.zeros(2)), ValueError, "beta must have shape"),
    (call(gamma=np.zeros(3, np.float32)), TypeError, "gamma has dtype float32"),
    (call(running_mean=np.zeros(5)), ValueError, "running_mean must have shape"),
    (call(running_var=np.ones(3, np.float32)), TypeError, "running_var has dtype float32"),
    (call(running_var=np.ones(6)[::2]), ValueError, "running_var must be C-contiguous"),
    (call(running_mean=read_only(C3)), ValueError, "running_mean is read-only"),
    (call(running_mean=C3, running_var=C3), ValueError, "share memory"),
    (call(momentum=-0.1), ValueError, "momentum"),
    (call(momentum=1.5), ValueError, "momentum"),
    (call(momentum=float("nan")), ValueError, "momentum"),
    (call(momentum="0.1"), TypeError, "momentum"),
    (call(eps=0.0), ValueError, "eps"),
    (call(eps=-1e-5), ValueError, "eps"),
    (call(training="yes"), TypeError, "training"),
    (call(x=np.zeros((1, 3))), ValueError, "single value"),
    (call(x=np.zeros((1, 3, 1, 1))), ValueError, "unbiased variance"),
]


@pytest.mark.parametrize("fn, error, fragment", BAD)
def test_bad_input_raises_and_names_it(fn, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        fn()
    assert "batchnorm_forward" in str(info.value)


def test_a_refused_call_changes_nothing():
    p = problem((4, 3), np.float64, seed=8)
    rm, rv = p["running_mean"].copy(), p["running_var"].copy()
    with pytest.raises(ValueError):
        batchnorm_forward(p["x"], p["gamma"], p["beta"], rm, rv, eps=-1.0)
    assert bits(rm) == bits(p["running_mean"]) and bits(rv) == bits(p["running_var"])


def forward_cache():
    p = problem((4, 3), np.float64, seed=9)
    return p, batchnorm_forward(p["x"], p["gamma"], p["beta"], p["running_mean"].copy(),
                                p["running_var"].copy())[1]


def test_backward_refuses_another_layers_cache():
    p, cache = forward_cache()
    others = [layernorm_forward(p["x"], p["gamma"], p["beta"])[1],
              dropout_forward(p["x"], rng=0)[1], tuple(cache), dict(cache._asdict()), None]
    for other in others:
        with pytest.raises(TypeError, match="cache must be the BatchNormCache"):
            batchnorm_backward(p["dout"], other)
    assert isinstance(cache, BatchNormCache)


@pytest.mark.parametrize("dout, error, fragment", [
    (np.zeros((4, 4)), ValueError, r"dout must have shape \(4, 3\)"),
    (np.zeros((4, 3), np.float32), TypeError, "dout has dtype float32"),
    (np.zeros((3, 4)).T, ValueError, "dout must be C-contiguous"),
    ([[0.0] * 3] * 4, TypeError, "dout must be a numpy array"),
])
def test_backward_refuses_a_bad_dout(dout, error, fragment):
    _, cache = forward_cache()
    with pytest.raises(error, match=fragment):
        batchnorm_backward(dout, cache)


@pytest.mark.parametrize("field, value, error, fragment", [
    ("x", None, TypeError, "cache.x must be a numpy array"),
    ("x", np.ones(4), ValueError, "cache.x must have at least 2 dimensions"),
    ("x", np.ones((0, 3)), ValueError, r"cache.x has shape \(0, 3\), no values"),
    ("gamma", np.ones(2), ValueError, r"cache.gamma must have shape \(3,\)"),
    ("gamma", np.ones(3, np.float32), TypeError, "cache.gamma has dtype float32"),
    ("mean", np.ones(1), ValueError, r"cache.mean must be float64 of shape \(3,\)"),
    ("invstd", np.ones(3, np.float32), ValueError, "cache.invstd must be float64"),
    ("invstd", np.ones(6)[::2], ValueError, "cache.invstd must be C-contiguous"),
    ("training", "yes", TypeError, "cache.training must be True or False"),
])
def test_backward_checks_every_field_of_a_rebuilt_cache(field, value, error, fragment):
    # A cache is a named tuple: one rebuilt with _replace must be refused
    # before the kernel indexes its arrays (found by tests/fuzz).
    x = np.random.default_rng(0).standard_normal((4, 3))
    out, cache = batchnorm_forward(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))
    forged = cache._replace(**{field: value})
    with pytest.raises(error, match=fragment):
        batchnorm_backward(np.ones_like(out), forged)
