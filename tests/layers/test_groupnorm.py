"""groupnorm_forward/backward against torch's F.group_norm and autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import descentlab._jit as jit
from descentlab.layers import (GroupNormCache, groupnorm_backward, groupnorm_forward,
                               layernorm_forward)

from .cases import (NOJIT, assert_close, bits, data, dtypes, eps_values, needs_jit,
                    needs_two_threads, numerical_gradient, relative_error, with_threads,
                    without_jit)


@st.composite
def shapes(draw):
    """(x.shape, num_groups): x is (N, C, *0 to 2 spatial axes), G divides C."""
    groups = draw(st.integers(1, 4))
    C = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 5), max_size=2)))
    shape = (draw(st.integers(1, 4)), C, *spatial)
    # torch refuses N * (C/G) * H * W == 1 (batch norm's check, reused); see
    # test_single_value_groups_give_beta for that case
    if np.prod(shape) == groups:
        shape = (2, *shape[1:])
    return shape, groups


def problem(shape, groups, dtype, seed, ratio=0.0):
    rng = np.random.default_rng(seed)
    scale = float(rng.uniform(0.1, 10.0))
    C = shape[1]
    return dict(x=data(rng, shape, dtype, offset=ratio * scale, scale=scale), groups=groups,
                gamma=data(rng, (C,), dtype), beta=data(rng, (C,), dtype),
                dout=data(rng, shape, dtype))


def ours(p, eps=1e-5):
    out, cache = groupnorm_forward(p["x"], p["groups"], p["gamma"], p["beta"], eps)
    return (out, *groupnorm_backward(p["dout"], cache))


def torchs(p, eps=1e-5):
    x, gamma, beta = (torch.from_numpy(p[k].copy()).requires_grad_()
                      for k in ("x", "gamma", "beta"))
    out = F.group_norm(x, p["groups"], gamma, beta, eps)
    grads = torch.autograd.grad(out, (x, gamma, beta), torch.from_numpy(p["dout"]))
    return tuple(t.detach().numpy() for t in (out, *grads))


NAMES = ("out", "dx", "dgamma", "dbeta")


def scales(p, eps=1e-5):
    """dx's scale is max |gamma dy| / sigma over a group; the condition number
    max |x| / sigma (see cases.assert_close)."""
    x = p["x"].astype(np.float64)
    N, G = x.shape[0], p["groups"]
    rows = x.reshape(N * G, -1)
    g = np.abs(p["dout"].astype(np.float64)
               * p["gamma"].reshape((1, -1) + (1,) * (x.ndim - 2))).reshape(N * G, -1)
    sigma = np.sqrt(rows.var(axis=1) + eps)
    return (dict(dx=float(np.max(g.max(axis=1) / sigma))),
            float(np.max(np.abs(rows).max(axis=1) / sigma)))


@given(shapes=shapes(), dtype=dtypes, eps=eps_values, seed=st.integers(0, 2**32 - 1),
       ratio=st.floats(-10.0, 10.0))
def test_forward_and_backward_match_torch(shapes, dtype, eps, seed, ratio):
    p = problem(*shapes, dtype, seed, ratio)
    scale, condition = scales(p, eps)
    for name, a, t in zip(NAMES, ours(p, eps), torchs(p, eps)):
        assert a.dtype == dtype and a.shape == t.shape, name
        assert_close(name, a, t, dtype, scale.get(name), condition)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_batch_above_the_parallel_threshold_matches_torch(dtype):
    shape = (4, 8, 3, 3) if NOJIT else (16, 32, 16, 16)
    p = problem(shape, 8, dtype, seed=1, ratio=2.0)
    scale, condition = scales(p)
    for name, a, t in zip(NAMES, ours(p), torchs(p)):
        assert_close(name, a, t, dtype, scale.get(name), condition)


@given(shapes=shapes().filter(lambda s: np.prod(s[0]) <= 24), seed=st.integers(0, 2**32 - 1))
def test_gradients_match_centred_differences(shapes, seed):
    p = problem(*shapes, np.float64, seed, ratio=1.0)
    dx, dgamma, dbeta = ours(p)[1:]

    def loss():
        out = groupnorm_forward(p["x"], p["groups"], p["gamma"], p["beta"])[0]
        return float(np.sum(out * p["dout"]))

    for name, analytic in (("x", dx), ("gamma", dgamma), ("beta", dbeta)):
        err = relative_error(analytic, numerical_gradient(loss, p[name]))
        assert err <= 1e-6, f"d{name}: relative error {err:.3g} against finite differences"


def test_one_group_is_layer_norm_and_each_group_is_standardised():
    """G = 1 with gamma = 1, beta = 0 is layer norm over (C, H, W); closed
    form: each group of G = 2 has zero mean and (almost) unit biased variance."""
    p = problem((3, 4, 5, 2), 1, np.float64, seed=2, ratio=5.0)
    ones, zeros = np.ones(4), np.zeros(4)
    out, _ = groupnorm_forward(p["x"], 1, ones, zeros)
    ln, _ = layernorm_forward(p["x"], np.ones((4, 5, 2)), np.zeros((4, 5, 2)))
    np.testing.assert_allclose(out, ln, rtol=0, atol=1e-12)
    out2, _ = groupnorm_forward(p["x"], 2, ones, zeros, eps=1e-12)
    groups = out2.reshape(3, 2, -1)
    np.testing.assert_allclose(groups.mean(axis=2), 0.0, atol=1e-12)
    np.testing.assert_allclose(groups.var(axis=2), 1.0, rtol=1e-9)


def test_single_value_groups_give_beta_and_no_gradient_through_x():
    """Closed form: a group of one value is its own mean, x_hat = 0, so out =
    beta, dx = 0, dgamma = 0 and dbeta = dout (torch refuses the 1-sample case)."""
    p = problem((1, 3), 3, np.float64, seed=6, ratio=4.0)
    out, dx, dgamma, dbeta = ours(p)
    assert np.array_equal(out[0], p["beta"]) and np.array_equal(dx, np.zeros((1, 3)))
    assert np.array_equal(dgamma, np.zeros(3)) and np.array_equal(dbeta, p["dout"][0])


def test_read_only_inputs_are_accepted():
    p = problem((4, 6, 2), 3, np.float32, seed=11)
    expected = ours(p)
    for k in ("x", "gamma", "beta", "dout"):
        p[k].flags.writeable = False
    assert [bits(a) for a in ours(p)] == [bits(a) for a in expected]


def test_an_empty_batch_gives_empty_results():
    p = problem((0, 4, 3), 2, np.float64, seed=3)
    out, dx, dgamma, dbeta = ours(p)
    assert out.shape == dx.shape == (0, 4, 3)
    assert np.array_equal(dgamma, np.zeros(4)) and np.array_equal(dbeta, np.zeros(4))


# ------------------------------------------------------------ determinism

def run_all(p):
    return [bits(a) for a in ours(p)]


@needs_jit
@needs_two_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_result_does_not_depend_on_thread_count(dtype):
    p = problem((16, 32, 16, 16), 8, dtype, seed=4, ratio=3.0)
    assert with_threads(1, lambda: run_all(p)) == with_threads(2, lambda: run_all(p))


@needs_jit
def test_serial_and_parallel_kernels_agree_bit_for_bit(monkeypatch):
    p = problem((16, 32, 16, 16), 4, np.float32, seed=5)
    parallel = run_all(p)
    monkeypatch.setattr(jit, "PARALLEL_MIN_SIZE", 1 << 40)
    assert run_all(p) == parallel


def fallback_case():
    return [run_all(problem(shape, groups, dtype, seed=10, ratio=2.0))
            for shape, groups in (((3, 6, 50), 3), ((2, 4, 3, 3), 4), ((5, 6), 2))
            for dtype in (np.float32, np.float64)]


@needs_jit
def test_python_fallback_gives_the_same_bits(tmp_path):
    assert without_jit("test_groupnorm", "fallback_case", tmp_path) == fallback_case()


# --------------------------------------------------------------- bad input

def call(**changes):
    args = dict(x=np.ones((4, 6, 2)), num_groups=3, gamma=np.ones(6), beta=np.zeros(6))
    args.update(changes)
    return lambda: groupnorm_forward(**args)


BAD = [
    (call(x=[1.0, 2.0]), TypeError, "x must be a numpy array"),
    (call(x=np.ones(6)), ValueError, "x must have at least 2 dimensions"),
    (call(x=np.ones((4, 6, 2), np.int64)), TypeError, "x must have dtype"),
    (call(x=np.ones((4, 2, 6)).transpose(0, 2, 1)), ValueError, "x must be C-contiguous"),
    (call(num_groups=4), ValueError, "num_groups=4 does not divide the 6 channels"),
    (call(num_groups=0), ValueError, "num_groups must be >= 1, got 0"),
    (call(num_groups=-3), ValueError, "num_groups must be >= 1, got -3"),
    (call(num_groups=3.0), TypeError, "num_groups must be an integer, got 3.0"),
    (call(num_groups=True), TypeError, "num_groups must be an integer, got True"),
    (call(num_groups=None), TypeError, "num_groups must be an integer"),
    (call(gamma=np.ones(3)), ValueError, r"gamma must have shape \(6,\)"),
    (call(beta=np.zeros((6, 1))), ValueError, r"beta must have shape \(6,\)"),
    (call(gamma=np.ones(6, np.float32)), TypeError, "gamma has dtype float32"),
    (call(beta=np.zeros(6, np.float32)), TypeError, "beta has dtype float32"),
    (call(gamma=np.ones(12)[::2]), ValueError, "gamma must be C-contiguous"),
    (call(eps=0.0), ValueError, "eps"),
    (call(eps=float("nan")), ValueError, "eps"),
    (call(eps="1e-5"), TypeError, "eps"),
]


@pytest.mark.parametrize("fn, error, fragment", BAD)
def test_bad_input_raises_and_names_it(fn, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        fn()
    assert "groupnorm_forward" in str(info.value)


def test_backward_checks_its_arguments():
    x = np.ones((4, 6))
    _, cache = groupnorm_forward(x, 2, np.ones(6), np.zeros(6))
    assert isinstance(cache, GroupNormCache)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 6\)"):
        groupnorm_backward(np.ones((6, 4)), cache)
    with pytest.raises(TypeError, match="dout has dtype float32"):
        groupnorm_backward(np.ones((4, 6), np.float32), cache)
    other = layernorm_forward(x, np.ones(6), np.zeros(6))[1]
    for bad in (other, tuple(cache), "cache"):
        with pytest.raises(TypeError, match="cache must be the GroupNormCache"):
            groupnorm_backward(x, bad)
