r"""Layer normalisation (Ba, Kiros & Hinton, *Layer Normalization*, 2016).

Each sample is normalised over its trailing dimensions (torch's
``normalized_shape``, here ``gamma.shape``) with its own mean and variance,
so unlike batch normalisation nothing depends on the other samples in the
batch and training and evaluation compute the same thing.

The kernels see x as a matrix of M rows (samples) by K columns (the
normalised elements).  Determinism: row statistics are summed serially by
one thread per row; dgamma and dbeta, sums over rows, are computed by a
separate kernel in which one thread owns a block of columns and sums each
column over the rows in order.  No sum is split between threads.  Sums are
accumulated in float64 for float32 input, and element-wise work is done in
float64 and rounded once on store (see ``batchnorm`` for why).  Every float32
read is widened explicitly with ``np.float64(...)``: Numba would widen it
anyway, but NumPy (NEP 50) keeps ``float32 + python float`` in float32, and
the pure-Python fallback must compute the same bits.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from . import _common

__all__ = ["LayerNormCache", "layernorm_forward", "layernorm_backward"]

#: Columns per task in the dgamma/dbeta kernel: wide enough for the inner loop
#: to vectorise, narrow enough to share the work out.
COLUMN_BLOCK = 256


@kernel
def layernorm_forward_kernel(x2, out2, gamma, beta, mean, rstd, eps):
    """Row by row: two-pass mean and biased variance, then normalise."""
    M, K = x2.shape
    for r in prange(M):
        xr = x2[r]
        s = 0.0
        for k in range(K):
            s += np.float64(xr[k])
        mu = s / K
        s = 0.0
        for k in range(K):
            d = np.float64(xr[k]) - mu
            s += d * d
        rs = 1.0 / np.sqrt(s / K + eps)
        mean[r] = mu
        rstd[r] = rs
        outr = out2[r]
        for k in range(K):
            outr[k] = (np.float64(xr[k]) - mu) * rs * np.float64(gamma[k]) + np.float64(beta[k])


@kernel
def layernorm_dx_kernel(dy2, x2, dx2, gamma, mean, rstd):
    r"""dx row by row, in the compact form (as in batchnorm's backward):

    .. math::
        g = dy \odot \gamma, \qquad
        dx = \sigma^{-1}\Big(g - \tfrac{1}{K}\textstyle\sum g
             - \hat x\,\tfrac{1}{K}\sum g\,\hat x\Big),

    two row sums and one write per element, instead of back-propagating
    through the mean and the variance separately.
    """
    M, K = x2.shape
    for r in prange(M):
        dyr = dy2[r]
        xr = x2[r]
        mu = mean[r]
        rs = rstd[r]
        sg = 0.0
        sgx = 0.0
        for k in range(K):
            g = np.float64(dyr[k]) * np.float64(gamma[k])
            sg += g
            sgx += g * ((np.float64(xr[k]) - mu) * rs)
        sg = sg / K
        sgx = sgx / K
        dxr = dx2[r]
        for k in range(K):
            xhat = (np.float64(xr[k]) - mu) * rs
            dxr[k] = (np.float64(dyr[k]) * np.float64(gamma[k]) - sg - xhat * sgx) * rs


@kernel
def layernorm_dparams_kernel(dy2, x2, mean, rstd, dgamma, dbeta):
    """dgamma = sum over rows of dy * xhat, dbeta = sum of dy: each column summed
    over the rows in order by the one thread that owns its block."""
    M, K = x2.shape
    nblocks = (K + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for b in prange(nblocks):
        k0 = b * COLUMN_BLOCK
        k1 = min(K, k0 + COLUMN_BLOCK)
        w = k1 - k0
        dg = dgamma[k0:k1]
        db = dbeta[k0:k1]
        for j in range(w):
            dg[j] = 0.0
            db[j] = 0.0
        for r in range(M):
            dyr = dy2[r, k0:k1]
            xr = x2[r, k0:k1]
            mu = mean[r]
            rs = rstd[r]
            for j in range(w):
                dy = np.float64(dyr[j])
                db[j] += dy
                dg[j] += dy * ((np.float64(xr[j]) - mu) * rs)


class LayerNormCache(NamedTuple):
    """What :func:`layernorm_backward` needs: the caller's ``x`` (not a copy;
    do not modify it before backward), ``gamma``, and per-row float64
    ``mean`` and ``rstd`` :math:`= 1/\\sqrt{\\sigma^2+\\epsilon}`."""

    x: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray
    rstd: np.ndarray


def _gamma(gamma, name: str, x: np.ndarray, owner: str) -> np.ndarray:
    gamma = _common.array(gamma, name, owner, dtype=x.dtype, min_ndim=1)
    if gamma.ndim > x.ndim or x.shape[x.ndim - gamma.ndim:] != gamma.shape:
        raise ValueError(f"{owner}: {name} has shape {gamma.shape}, which must be the trailing "
                         f"shape of x, but x has shape {x.shape}")
    if gamma.size == 0:
        raise ValueError(f"{owner}: {name} has shape {gamma.shape}: nothing to normalise over")
    return gamma


def layernorm_forward(x, gamma, beta, eps=1e-5):
    r"""Layer normalisation, torch's ``F.layer_norm(x, gamma.shape, gamma, beta, eps)``.

    Over the last ``gamma.ndim`` axes of x (K elements per sample):

    .. math::
        \mu = \frac{1}{K}\sum_k x_k, \qquad
        \sigma^2 = \frac{1}{K}\sum_k (x_k - \mu)^2, \qquad
        y_k = \gamma_k\,\frac{x_k - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta_k .

    The variance is the biased one, as in torch.

    Args:
        x: float32 or float64, C-contiguous, whose trailing shape is gamma's.
            A single sample (x.shape == gamma.shape) is allowed, as in torch.
        gamma, beta: scale and shift, same shape (torch's ``normalized_shape``,
            at least one axis) and dtype as each other and x.
        eps: > 0, added to the variance.

    Returns:
        ``out`` (x's shape and dtype) and a :class:`LayerNormCache`.
    """
    owner = "layernorm_forward"
    x = _common.array(x, "x", owner, min_ndim=1)
    gamma = _gamma(gamma, "gamma", x, owner)
    beta = _common.array(beta, "beta", owner, dtype=x.dtype, shape=gamma.shape)
    eps = _checks.positive(eps, "eps", owner)
    K = gamma.size
    M = x.size // K
    mean = np.empty(M, np.float64)
    rstd = np.empty(M, np.float64)
    out = np.empty_like(x)
    layernorm_forward_kernel(x.reshape(M, K), out.reshape(M, K), gamma.reshape(K),
                             beta.reshape(K), mean, rstd, eps)
    return out, LayerNormCache(x, gamma, mean, rstd)


def layernorm_backward(dout, cache):
    r"""Gradients of :func:`layernorm_forward`: returns ``(dx, dgamma, dbeta)``.

    With :math:`\hat x = (x-\mu)/\sqrt{\sigma^2+\epsilon}` and
    :math:`g = dy\odot\gamma`, per sample

    .. math::
        dx = \frac{1}{\sqrt{\sigma^2+\epsilon}}\Big(g - \tfrac{1}{K}\textstyle\sum_k g_k
             - \hat x\,\tfrac{1}{K}\sum_k g_k\hat x_k\Big),

    and over the batch :math:`d\gamma = \sum dy\,\hat x`,
    :math:`d\beta = \sum dy`.  All three have the dtype of x.
    """
    owner = "layernorm_backward"
    cache = _common.cache(cache, LayerNormCache, owner)
    x = _common.array(cache.x, "cache.x", owner, min_ndim=1)
    gamma = _gamma(cache.gamma, "cache.gamma", x, owner)
    K = gamma.size
    M = x.size // K
    mean = _common.statistic(cache.mean, "cache.mean", owner, M)
    rstd = _common.statistic(cache.rstd, "cache.rstd", owner, M)
    dout = _common.dout(dout, x, owner)
    dx = np.empty_like(x)
    dgamma = np.empty(K, np.float64)
    dbeta = np.empty(K, np.float64)
    dy2, x2 = dout.reshape(M, K), x.reshape(M, K)
    layernorm_dx_kernel(dy2, x2, dx.reshape(M, K), gamma.reshape(K), mean, rstd)
    layernorm_dparams_kernel(dy2, x2, mean, rstd, dgamma, dbeta)
    shape = gamma.shape
    return dx, dgamma.astype(x.dtype).reshape(shape), dbeta.astype(x.dtype).reshape(shape)
