"""instancenorm_forward/backward against torch's F.instance_norm and autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from descentlab.layers import (InstanceNormCache, groupnorm_forward, instancenorm_backward,
                               instancenorm_forward)

from .cases import (NOJIT, assert_close, bits, data, dtypes, eps_values, needs_jit,
                    numerical_gradient, relative_error, without_jit)


@st.composite
def shapes(draw):
    """(N, C, 1 or 2 spatial axes) with at least 2 spatial positions."""
    spatial = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=2)))
    if np.prod(spatial) < 2:
        spatial = (2, *spatial[1:])
    return (draw(st.integers(1, 4)), draw(st.integers(1, 5)), *spatial)


def problem(shape, dtype, seed, ratio=0.0):
    rng = np.random.default_rng(seed)
    scale = float(rng.uniform(0.1, 10.0))
    C = shape[1]
    return dict(x=data(rng, shape, dtype, offset=ratio * scale, scale=scale),
                gamma=data(rng, (C,), dtype), beta=data(rng, (C,), dtype),
                dout=data(rng, shape, dtype))


def ours(p, eps=1e-5):
    out, cache = instancenorm_forward(p["x"], p["gamma"], p["beta"], eps)
    return (out, *instancenorm_backward(p["dout"], cache))


def torchs(p, eps=1e-5):
    x, gamma, beta = (torch.from_numpy(p[k].copy()).requires_grad_()
                      for k in ("x", "gamma", "beta"))
    out = F.instance_norm(x, weight=gamma, bias=beta, eps=eps)
    grads = torch.autograd.grad(out, (x, gamma, beta), torch.from_numpy(p["dout"]))
    return tuple(t.detach().numpy() for t in (out, *grads))


NAMES = ("out", "dx", "dgamma", "dbeta")


def scales(p, eps=1e-5):
    x = p["x"].astype(np.float64)
    rows = x.reshape(x.shape[0] * x.shape[1], -1)
    g = np.abs(p["dout"].astype(np.float64)
               * p["gamma"].reshape((1, -1) + (1,) * (x.ndim - 2))).reshape(rows.shape)
    sigma = np.sqrt(rows.var(axis=1) + eps)
    return (dict(dx=float(np.max(g.max(axis=1) / sigma))),
            float(np.max(np.abs(rows).max(axis=1) / sigma)))


@given(shape=shapes(), dtype=dtypes, eps=eps_values, seed=st.integers(0, 2**32 - 1),
       ratio=st.floats(-10.0, 10.0))
def test_forward_and_backward_match_torch(shape, dtype, eps, seed, ratio):
    p = problem(shape, dtype, seed, ratio)
    scale, condition = scales(p, eps)
    for name, a, t in zip(NAMES, ours(p, eps), torchs(p, eps)):
        assert a.dtype == dtype and a.shape == t.shape, name
        assert_close(name, a, t, dtype, scale.get(name), condition)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_batch_above_the_parallel_threshold_matches_torch(dtype):
    p = problem((2, 3, 4, 4) if NOJIT else (16, 16, 16, 16), dtype, seed=1, ratio=2.0)
    scale, condition = scales(p)
    for name, a, t in zip(NAMES, ours(p), torchs(p)):
        assert_close(name, a, t, dtype, scale.get(name), condition)


@given(shape=shapes().filter(lambda s: np.prod(s) <= 24), seed=st.integers(0, 2**32 - 1))
def test_gradients_match_centred_differences(shape, seed):
    p = problem(shape, np.float64, seed, ratio=1.0)
    dx, dgamma, dbeta = ours(p)[1:]

    def loss():
        return float(np.sum(instancenorm_forward(p["x"], p["gamma"], p["beta"])[0] * p["dout"]))

    for name, analytic in (("x", dx), ("gamma", dgamma), ("beta", dbeta)):
        err = relative_error(analytic, numerical_gradient(loss, p[name]))
        assert err <= 1e-6, f"d{name}: relative error {err:.3g} against finite differences"


def test_each_channel_of_each_sample_is_standardised_and_equals_group_norm_with_c_groups():
    p = problem((3, 4, 5, 2), np.float64, seed=2, ratio=20.0)
    ones, zeros = np.ones(4), np.zeros(4)
    out, _ = instancenorm_forward(p["x"], ones, zeros, eps=1e-12)
    rows = out.reshape(12, -1)
    np.testing.assert_allclose(rows.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(rows.var(axis=1), 1.0, rtol=1e-9)
    assert bits(out) == bits(groupnorm_forward(p["x"], 4, ones, zeros, eps=1e-12)[0])


def fallback_case():
    return [[bits(a) for a in ours(problem(shape, dtype, seed=10, ratio=2.0))]
            for shape in ((3, 2, 50), (2, 4, 3, 3)) for dtype in (np.float32, np.float64)]


@needs_jit
def test_python_fallback_gives_the_same_bits(tmp_path):
    assert without_jit("test_instancenorm", "fallback_case", tmp_path) == fallback_case()


def call(**changes):
    args = dict(x=np.ones((4, 3, 2)), gamma=np.ones(3), beta=np.zeros(3))
    args.update(changes)
    return lambda: instancenorm_forward(**args)


BAD = [
    (call(x=(1.0, 2.0)), TypeError, "x must be a numpy array"),
    (call(x=np.ones((4, 3))), ValueError, "x must have at least 3 dimensions"),
    (call(x=np.ones((4, 3, 1, 1))), ValueError, "1 spatial value"),
    (call(x=np.ones((4, 3, 2), np.float16)), TypeError, "x must have dtype"),
    (call(x=np.ones((4, 2, 3)).transpose(0, 2, 1)), ValueError, "x must be C-contiguous"),
    (call(gamma=np.ones(4)), ValueError, r"gamma must have shape \(3,\)"),
    (call(beta=np.zeros(2)), ValueError, r"beta must have shape \(3,\)"),
    (call(gamma=np.ones(3, np.float32)), TypeError, "gamma has dtype float32"),
    (call(eps=-1e-5), ValueError, "eps"),
    (call(eps=None), TypeError, "eps"),
]


@pytest.mark.parametrize("fn, error, fragment", BAD)
def test_bad_input_raises_and_names_it(fn, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        fn()
    assert "instancenorm_forward" in str(info.value)


def test_backward_checks_its_arguments():
    x = np.ones((4, 3, 2))
    _, cache = instancenorm_forward(x, np.ones(3), np.zeros(3))
    assert isinstance(cache, InstanceNormCache)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 3, 2\)"):
        instancenorm_backward(np.ones((4, 2, 3)), cache)
    with pytest.raises(TypeError, match="dout has dtype float32"):
        instancenorm_backward(np.ones((4, 3, 2), np.float32), cache)
    other = groupnorm_forward(x, 3, np.ones(3), np.zeros(3))[1]
    for bad in (other, tuple(cache), "cache"):
        with pytest.raises(TypeError, match="cache must be the InstanceNormCache"):
            instancenorm_backward(x, bad)
