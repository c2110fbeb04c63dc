"""dropout_forward/backward: torch's arithmetic on the same mask, and the
statistics of the mask.

The kept count of n units is Binomial(n, 1 - p).  It is tested with the
normal approximation at level ALPHA = 1e-8 (|K - n(1-p)| <= z sqrt(n p (1-p)),
z = 5.73); n >= 20,000 and p in [0.05, 0.95] keep n p (1-p) >= 950, where
the approximation is accurate far into the tails.  Fewer than 200 such checks
per run: a false failure less than once in 500,000 runs.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from scipy import stats

import descentlab._jit as jit
from descentlab.layers import (DropoutCache, batchnorm_forward, dropout_backward, dropout_forward)

from .cases import (bits, data, dtypes, needs_jit, needs_two_threads, with_threads,
                    without_jit)

ALPHA = 1e-8
Z = stats.norm.isf(ALPHA / 2)
probabilities = st.floats(0.0, 0.99).filter(lambda p: p < 1.0)


def torchs(x, keep, p, dout):
    """torch's _dropout_impl on our mask: noise = mask / (1 - p), out = x * noise."""
    tx = torch.from_numpy(x.copy()).requires_grad_()
    noise = torch.from_numpy(keep).to(tx.dtype).div_(1 - p)
    out = tx * noise
    (dx,) = torch.autograd.grad(out, (tx,), torch.from_numpy(dout))
    return out.detach().numpy(), dx.numpy()


@given(shape=st.lists(st.integers(1, 5), max_size=4).map(tuple), dtype=dtypes, p=probabilities,
       seed=st.integers(0, 2**32 - 1))
def test_same_mask_gives_torchs_bits_forward_and_backward(shape, dtype, p, seed):
    rng = np.random.default_rng(seed)
    x, dout = data(rng, shape, dtype, scale=3.0), data(rng, shape, dtype)
    out, cache = dropout_forward(x, p, rng=seed)
    dx = dropout_backward(dout, cache)
    keep = cache.keep if cache.keep is not None else np.ones(shape, bool)
    t_out, t_dx = torchs(x, keep, p, dout)
    assert out.dtype == dx.dtype == dtype and out.shape == dx.shape == shape
    assert bits(out) == bits(t_out)  # -0.0 for a dropped negative included
    assert bits(dx) == bits(t_dx)


@given(dtype=dtypes, p=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1))
def test_kept_fraction_is_binomial_and_kept_units_scale_exactly(dtype, p, seed):
    n = 20_000
    x = np.asarray(np.random.default_rng(seed).uniform(0.5, 2.0, (100, 200)), dtype)
    out, cache = dropout_forward(x, p, rng=seed)
    kept = out != 0
    k = int(np.count_nonzero(kept))
    sd = math.sqrt(n * p * (1 - p))
    assert abs(k - n * (1 - p)) <= Z * sd, \
        f"kept {k} of {n} with p = {p}: expected {n * (1 - p):.0f}, standard deviation {sd:.0f}"
    scale = dtype(1) / dtype(1 - p)
    assert np.array_equal(out[kept], x[kept] * scale)
    assert np.array_equal(kept, cache.keep)


def test_masks_of_different_positions_are_independent():
    """Neighbouring units: P(both kept) = (1-p)^2, at the same level.

    The n overlapping pairs Y_i = k_i k_{i+1} are not independent of each
    other: Var(sum Y) = n q (1-q) + 2 (n-1) Cov(Y_i, Y_{i+1}), with
    q = (1-p)^2 and Cov = (1-p)^3 - (1-p)^4.
    """
    p, n = 0.3, 200_000
    keep = dropout_forward(np.ones(n + 1), p, rng=11)[1].keep
    both = int(np.count_nonzero(keep[:-1] & keep[1:]))
    q = (1 - p) ** 2
    var = n * q * (1 - q) + 2 * (n - 1) * ((1 - p) ** 3 - (1 - p) ** 4)
    assert abs(both - n * q) <= Z * math.sqrt(var)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eval_and_p_zero_are_the_identity(dtype):
    x = data(np.random.default_rng(0), (5, 7), dtype)
    for kwargs in (dict(training=False), dict(p=0.0), dict(p=0.9, training=False)):
        out, cache = dropout_forward(x, **kwargs, rng=1)
        assert bits(out) == bits(x) and out is not x
        dout = data(np.random.default_rng(1), (5, 7), dtype)
        dx = dropout_backward(dout, cache)
        assert bits(dx) == bits(dout) and dx is not dout


def test_same_seed_same_mask_different_seed_different_mask():
    x = np.ones((50, 40))
    a, b, c = (dropout_forward(x, 0.5, rng=s)[0] for s in (3, 3, 4))
    assert bits(a) == bits(b) and bits(a) != bits(c)


def test_generator_is_used_and_advanced():
    x = np.ones((50, 40))
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    first = dropout_forward(x, 0.5, rng=g1)[0]
    assert bits(first) == bits(dropout_forward(x, 0.5, rng=g2)[0])
    assert bits(first) != bits(dropout_forward(x, 0.5, rng=g1)[0])


def test_read_only_inputs_are_accepted():
    x = np.ones((30, 30))
    x.flags.writeable = False
    out, cache = dropout_forward(x, 0.4, rng=5)
    assert np.array_equal(dropout_backward(x, cache), out)


def test_backward_uses_the_forward_mask():
    x = np.ones((30, 30))
    out, cache = dropout_forward(x, 0.4, rng=5)
    dx = dropout_backward(np.full((30, 30), 2.0), cache)
    assert np.array_equal(dx == 0, out == 0)
    assert np.array_equal(dx, 2.0 * out)


@needs_jit
@needs_two_threads
def test_result_does_not_depend_on_thread_count_or_kernel():
    x = data(np.random.default_rng(0), (jit.PARALLEL_MIN_SIZE + 5,), np.float32)
    runs = [with_threads(t, lambda: bits(dropout_forward(x, 0.3, rng=1)[0])) for t in (1, 2)]
    assert runs[0] == runs[1]


def fallback_case():
    x = data(np.random.default_rng(0), (40, 30), np.float32)
    out, cache = dropout_forward(x, 0.3, rng=2)
    return [bits(out), bits(dropout_backward(x, cache))]


@needs_jit
def test_python_fallback_gives_the_same_bits(tmp_path):
    assert without_jit("test_dropout", "fallback_case", tmp_path,
                       stub_torch=False) == fallback_case()


# --------------------------------------------------------------- bad input

X = np.ones((3, 4))
BAD = [
    (lambda: dropout_forward(X, p=1.0), ValueError, r"p must lie in \[0, 1\)"),
    (lambda: dropout_forward(X, p=-0.1), ValueError, "p must lie"),
    (lambda: dropout_forward(X, p=float("nan")), ValueError, "p"),
    (lambda: dropout_forward(X, p="0.5"), TypeError, "p must be a real number"),
    (lambda: dropout_forward(X, p=True), TypeError, "p must be a real number"),
    (lambda: dropout_forward(X, training=1), TypeError, "training"),
    (lambda: dropout_forward(X, rng="seed"), TypeError, "rng"),
    (lambda: dropout_forward(X, rng=-3), ValueError, "rng"),
    (lambda: dropout_forward(np.ones((3, 4), np.int32)), TypeError, "x must have dtype"),
    (lambda: dropout_forward(np.ones((4, 6))[:, ::2]), ValueError, "x must be C-contiguous"),
    (lambda: dropout_forward([1.0, 2.0]), TypeError, "x must be a numpy array"),
]


@pytest.mark.parametrize("fn, error, fragment", BAD)
def test_bad_input_raises_and_names_it(fn, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        fn()
    assert "dropout_forward" in str(info.value)


@pytest.mark.parametrize("training", [True, False])
def test_backward_checks_its_arguments(training):
    _, cache = dropout_forward(X, 0.5, training, rng=0)
    assert isinstance(cache, DropoutCache)
    with pytest.raises(ValueError, match=r"dout has shape \(4, 3\)"):
        dropout_backward(np.ones((4, 3)), cache)
    with pytest.raises(TypeError, match="dout has dtype float32"):
        dropout_backward(np.ones((3, 4), np.float32), cache)
    with pytest.raises(ValueError, match="C-contiguous"):
        dropout_backward(np.ones((4, 3)).T, cache)
    other = batchnorm_forward(X, np.ones(4), np.zeros(4), np.zeros(4), np.ones(4))[1]
    for bad in (other, tuple(cache), None):
        with pytest.raises(TypeError, match="cache must be the DropoutCache"):
            dropout_backward(X, bad)


@pytest.mark.parametrize("field, value, error, fragment", [
    ("keep", np.ones(3, bool), ValueError, r"cache.keep must be None or a C-contiguous bool mask"),
    ("keep", np.ones((3, 4)), ValueError, "cache.keep must be None or a C-contiguous bool mask"),
    ("keep", np.ones((4, 3), bool).T, ValueError, "cache.keep must be None or a C-contiguous"),
    ("keep", [[True] * 4] * 3, ValueError, "got list"),
    ("scale", None, TypeError, "cache.scale must be a real number"),
    ("scale", np.nan, ValueError, "cache.scale must be a number"),
    ("shape", (12,), ValueError, r"the forward input had shape \(12,\)"),
])
def test_backward_checks_every_field_of_a_rebuilt_cache(field, value, error, fragment):
    # found by tests/fuzz: scale=None reached the kernel (a Numba TypingError),
    # and a short mask would have been read past its end
    _, cache = dropout_forward(X, 0.5, rng=0)
    with pytest.raises(error, match=fragment):
        dropout_backward(np.ones_like(X), cache._replace(**{field: value}))
