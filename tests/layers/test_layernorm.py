"""layernorm_forward/backward against torch's F.layer_norm and autograd."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import descentlab._jit as jit
from descentlab.layers import (LayerNormCache, batchnorm_forward, layernorm_backward,
                               layernorm_forward)

from .cases import (NOJIT, assert_close, bits, data, dtypes, eps_values, needs_jit,
                    needs_two_threads, numerical_gradient, relative_error, with_threads,
                    without_jit)


@st.composite
def shapes(draw, max_elements=400):
    """(x.shape, normalized_shape): x has 1 to 4 axes, the last 1 to 3 are normalised."""
    x_shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    k = draw(st.integers(1, min(3, len(x_shape))))
    return x_shape, x_shape[len(x_shape) - k:]


def problem(x_shape, normalized, dtype, seed, ratio=0.0):
    rng = np.random.default_rng(seed)
    scale = float(rng.uniform(0.1, 10.0))
    return dict(x=data(rng, x_shape, dtype, offset=ratio * scale, scale=scale),
                gamma=data(rng, normalized, dtype), beta=data(rng, normalized, dtype),
                dout=data(rng, x_shape, dtype))


def ours(p, eps=1e-5):
    out, cache = layernorm_forward(p["x"], p["gamma"], p["beta"], eps)
    return (out, *layernorm_backward(p["dout"], cache))


def torchs(p, eps=1e-5):
    x, gamma, beta = (torch.from_numpy(p[k].copy()).requires_grad_()
                      for k in ("x", "gamma", "beta"))
    out = F.layer_norm(x, gamma.shape, gamma, beta, eps)
    grads = torch.autograd.grad(out, (x, gamma, beta), torch.from_numpy(p["dout"]))
    return tuple(t.detach().numpy() for t in (out, *grads))


NAMES = ("out", "dx", "dgamma", "dbeta")


def scales(p, eps=1e-5):
    """dx is a difference of terms of size |gamma dy| / sigma (per sample); and
    the condition number max |x| / sigma (see cases.assert_close)."""
    k = p["gamma"].ndim
    x = p["x"].astype(np.float64)
    axes = tuple(range(x.ndim - k, x.ndim))
    g = np.abs(p["dout"].astype(np.float64) * p["gamma"])
    if x.size == 0:
        return {}, 1.0
    sigma = np.sqrt(x.var(axis=axes) + eps)
    condition = float(np.max(np.abs(x).max(axis=axes) / sigma))
    return dict(dx=float(np.max(g.max(axis=axes) / sigma))), condition


@given(shapes=shapes(), dtype=dtypes, eps=eps_values, seed=st.integers(0, 2**32 - 1),
       ratio=st.floats(-10.0, 10.0))
def test_forward_and_backward_match_torch(shapes, dtype, eps, seed, ratio):
    p = problem(*shapes, dtype, seed, ratio)
    scale, condition = scales(p, eps)
    for name, a, t in zip(NAMES, ours(p, eps), torchs(p, eps)):
        assert a.dtype == dtype and a.shape == t.shape, name
        assert_close(name, a, t, dtype, scale.get(name), condition)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes", [((300, 700), (700,)), ((8, 3, 1000), (3, 1000))])
def test_large_rows_and_column_blocks_match_torch(shapes, dtype):
    """Rows above the parallel threshold and several dgamma column blocks."""
    if NOJIT:
        shapes = ((5, 600), (600,))
    p = problem(*shapes, dtype, seed=1, ratio=2.0)
    scale, condition = scales(p)
    for name, a, t in zip(NAMES, ours(p), torchs(p)):
        assert_close(name, a, t, dtype, scale.get(name), condition)


@given(shapes=shapes().filter(lambda s: math.prod(s[0]) <= 24), seed=st.integers(0, 2**32 - 1))
def test_gradients_match_centred_differences(shapes, seed):
    p = problem(*shapes, np.float64, seed, ratio=1.0)
    dx, dgamma, dbeta = ours(p)[1:]

    def loss():
        return float(np.sum(layernorm_forward(p["x"], p["gamma"], p["beta"])[0] * p["dout"]))

    for name, analytic in (("x", dx), ("gamma", dgamma), ("beta", dbeta)):
        err = relative_error(analytic, numerical_gradient(loss, p[name]))
        assert err <= 1e-6, f"d{name}: relative error {err:.3g} against finite differences"


def test_each_sample_is_normalised_on_its_own():
    """Closed form: zero mean and (almost) unit biased variance per sample, whatever the batch."""
    p = problem((4, 5, 6), (5, 6), np.float64, seed=2, ratio=50.0)
    out, _ = layernorm_forward(p["x"], np.ones((5, 6)), np.zeros((5, 6)), eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(1, 2)), 1.0, rtol=1e-9)
    alone, _ = layernorm_forward(p["x"][1:2].copy(), np.ones((5, 6)), np.zeros((5, 6)), eps=1e-12)
    assert bits(alone[0]) == bits(out[1])


def test_read_only_inputs_are_accepted():
    p = problem((4, 3, 2), (3, 2), np.float32, seed=11)
    expected = ours(p)
    for a in p.values():
        a.flags.writeable = False
    assert [bits(a) for a in ours(p)] == [bits(a) for a in expected]


def test_an_empty_batch_gives_empty_results():
    p = problem((0, 4), (4,), np.float64, seed=3)
    out, dx, dgamma, dbeta = ours(p)
    assert out.shape == dx.shape == (0, 4)
    assert np.array_equal(dgamma, np.zeros(4)) and np.array_equal(dbeta, np.zeros(4))


# ------------------------------------------------------------ determinism

def run_all(p):
    return [bits(a) for a in ours(p)]


@needs_jit
@needs_two_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_result_does_not_depend_on_thread_count(dtype):
    p = problem((300, 700), (700,), dtype, seed=4, ratio=3.0)
    assert with_threads(1, lambda: run_all(p)) == with_threads(2, lambda: run_all(p))


@needs_jit
def test_serial_and_parallel_kernels_agree_bit_for_bit(monkeypatch):
    p = problem((300, 700), (700,), np.float32, seed=5)
    parallel = run_all(p)
    monkeypatch.setattr(jit, "PARALLEL_MIN_SIZE", 1 << 40)
    assert run_all(p) == parallel


def fallback_case():
    return [run_all(problem(x_shape, normalized, dtype, seed=10, ratio=2.0))
            for x_shape, normalized in (((7, 300), (300,)), ((2, 3, 4), (3, 4)))
            for dtype in (np.float32, np.float64)]


@needs_jit
def test_python_fallback_gives_the_same_bits(tmp_path):
    assert without_jit("test_layernorm", "fallback_case", tmp_path) == fallback_case()


# --------------------------------------------------------------- bad input

def call(**changes):
    args = dict(x=np.ones((4, 3, 2)), gamma=np.ones((3, 2)), beta=np.zeros((3, 2)))
    args.update(changes)
    return lambda: layernorm_forward(**args)


BAD = [
    (call(x=np.float64(1.0)), TypeError, "x must be a numpy array"),
    (call(x=np.array(1.0)), ValueError, "x must have at least 1 dimensions"),
    (call(x=np.ones((4, 3, 2), np.int64)), TypeError, "x must have dtype"),
    (call(x=np.ones((4, 2, 3)).transpose(0, 2, 1)), ValueError, "x must be C-contiguous"),
    (call(gamma=np.ones((2, 3))), ValueError, "trailing shape of x"),
    (call(gamma=np.ones((5, 4, 3, 2))), ValueError, "trailing shape of x"),
    (call(gamma=np.ones(())), ValueError, "gamma must have at least 1 dimensions"),
    (call(x=np.ones((4, 0)), gamma=np.ones(0), beta=np.ones(0)), ValueError,
     "nothing to normalise"),
    (call(beta=np.zeros(2)), ValueError, r"beta must have shape \(3, 2\)"),
    (call(gamma=np.ones((3, 2), np.float32)), TypeError, "gamma has dtype float32"),
    (call(beta=np.zeros((3, 2), np.float32)), TypeError, "beta has dtype float32"),
    (call(gamma=np.ones((3, 4))[:, ::2]), ValueError, "gamma must be C-contiguous"),
    (call(eps=0.0), ValueError, "eps"),
    (call(eps=float("inf")), ValueError, "eps"),
    (call(eps=None), TypeError, "eps"),
]


@pytest.mark.parametrize("fn, error, fragment", BAD)
def test_bad_input_raises_and_names_it(fn, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        fn()
    assert "layernorm_forward" in str(info.value)


def test_backward_checks_its_arguments():
    x = np.ones((4, 3))
    _, cache = layernorm_forward(x, np.ones(3), np.zeros(3))
    assert isinstance(cache, LayerNormCache)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 3\)"):
        layernorm_backward(np.ones((3, 4)), cache)
    with pytest.raises(TypeError, match="dout has dtype float32"):
        layernorm_backward(np.ones((4, 3), np.float32), cache)
    other = batchnorm_forward(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))[1]
    for bad in (other, tuple(cache), "cache"):
        with pytest.raises(TypeError, match="cache must be the LayerNormCache"):
            layernorm_backward(x, bad)


@pytest.mark.parametrize("field, value, error, fragment", [
    ("x", None, TypeError, "cache.x must be a numpy array"),
    ("x", np.ones((4, 2)), ValueError, r"cache.gamma has shape \(3,\), which must be the trailing"),
    ("gamma", np.ones(0), ValueError, "cache.gamma has shape"),
    ("gamma", np.ones(3, np.float32), TypeError, "cache.gamma has dtype float32"),
    ("mean", np.ones(2), ValueError, r"cache.mean must be float64 of shape \(4,\)"),
    ("rstd", None, TypeError, "cache.rstd must be a numpy array"),
    ("rstd", np.ones(4, np.float32), ValueError, "cache.rstd must be float64"),
])
def test_backward_checks_every_field_of_a_rebuilt_cache(field, value, error, fragment):
    # found by tests/fuzz: a forged x crashed with AttributeError, and short
    # statistics would have been read past their end
    x = np.random.default_rng(0).standard_normal((4, 3))
    out, cache = layernorm_forward(x, np.ones(3), np.zeros(3))
    with pytest.raises(error, match=fragment):
        layernorm_backward(np.ones_like(out), cache._replace(**{field: value}))
