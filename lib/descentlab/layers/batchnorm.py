r"""Batch normalisation (Ioffe & Szegedy, *Batch Normalization: Accelerating
Deep Network Training by Reducing Internal Covariate Shift*, ICML 2015).

The kernels see the input as an (N, C, L) array (L = H·W for images, 1 for
an (N, D) batch) flattened to the matrix ``x2`` of shape (N, C·L), whose
column m belongs to channel m // L.  A channel's statistics are column sums
over the N rows, then a sum over the channel's L columns.

Determinism.  Every sum has one fixed order, whatever the number of threads:
channel c's total adds its columns in increasing order, each column summed
over n = 0, 1, ..., N-1.  Threads take disjoint groups of whole channels, so
no sum is ever split between threads, and how channels are grouped and
columns tiled changes which thread does the work, never the order.

Precision.  Sums are accumulated in float64 for float32 input too (torch's
CPU kernels also accumulate float32 in double), and the statistics are kept
in float64: the mean of a million float32 values summed in float32 can lose
three digits, in float64 it loses none that float32 can show.  Element-wise
work for float32 input is also done in float64 and rounded once on store, so
an output is the float32 nearest to the float64 result, even when |mean| is
many standard deviations (where a float32 ``(x - mean) * scale`` loses the
digits that rounding the mean to float32 threw away).  Measured cost: about
a quarter of the forward time on a (256, 1024) batch that sits in cache,
nothing measurable on a (64, 64, 32, 32) one that streams from memory.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from . import _common

__all__ = ["BatchNormCache", "batchnorm_forward", "batchnorm_backward"]

#: Columns per tile: a tile's float64 accumulators (8 KiB each) stay in L1
#: while the kernel streams the N rows of the tile through them.
TILE = 1024
#: Channel groups aimed for, so that even an (N, D) batch, whose channels are
#: single columns, spreads over the threads ...
GROUPS = 32
#: ... but no task narrower than this many columns: short inner loops spend
#: their time on loop overhead (measured on (256, 1024): 32 columns per task
#: is 1.6x slower than 128).
MIN_COLUMNS = 128


def _group_size(channels: int, length: int) -> int:
    """Channels per task.  Grouping never changes a result, only the speed."""
    wanted = -(-channels // GROUPS)
    at_least = -(-MIN_COLUMNS // length)
    at_most = max(1, TILE // length)
    return max(1, min(max(wanted, at_least), at_most))


@kernel
def batchnorm_forward_kernel(x2, out2, L, gamma, beta, running_mean, running_var, mean, var,
                             invstd, training, momentum, eps, group):
    """out = (x - mean) * (gamma * invstd) + beta, channel by channel.

    With ``training`` it first fills ``mean``, ``var`` (the sum of squared
    deviations) and ``invstd`` from the batch, in two passes (mean, then
    centred squares: the one-pass E[x^2] - E[x]^2 cancels catastrophically
    when |mean| >> std), and updates the running statistics in place;
    otherwise ``mean`` and ``invstd`` come from the running statistics.  A
    task works on one group of channels from start to end, so the second and
    third passes find its data still in cache.
    """
    N = x2.shape[0]
    C = gamma.size
    count = N * L
    ngroups = (C + group - 1) // group
    for g in prange(ngroups):
        c0 = g * group
        c1 = min(C, c0 + group)
        m0 = c0 * L
        m1 = c1 * L
        acc = np.empty(TILE, np.float64)
        col_mean = np.empty(TILE, np.float64)
        col_scale = np.empty(TILE, np.float64)
        col_shift = np.empty(TILE, np.float64)
        if training:
            for c in range(c0, c1):
                mean[c] = 0.0
                var[c] = 0.0
            # pass 1: column sums, folded into channel sums in column order
            for t0 in range(m0, m1, TILE):
                w = min(TILE, m1 - t0)
                for j in range(w):
                    acc[j] = 0.0
                for n in range(N):
                    xr = x2[n, t0:t0 + w]
                    for j in range(w):
                        acc[j] += xr[j]
                c = t0 // L
                l = t0 - c * L
                for j in range(w):
                    mean[c] += acc[j]
                    l += 1
                    if l == L:
                        l = 0
                        c += 1
            for c in range(c0, c1):
                mean[c] = mean[c] / count
            # pass 2: centred squares, same order
            for t0 in range(m0, m1, TILE):
                w = min(TILE, m1 - t0)
                c = t0 // L
                l = t0 - c * L
                for j in range(w):
                    acc[j] = 0.0
                    col_mean[j] = mean[c]
                    l += 1
                    if l == L:
                        l = 0
                        c += 1
                for n in range(N):
                    xr = x2[n, t0:t0 + w]
                    for j in range(w):
                        d = xr[j] - col_mean[j]
                        acc[j] += d * d
                c = t0 // L
                l = t0 - c * L
                for j in range(w):
                    var[c] += acc[j]
                    l += 1
                    if l == L:
                        l = 0
                        c += 1
            for c in range(c0, c1):
                invstd[c] = 1.0 / np.sqrt(var[c] / count + eps)
                # torch's update: momentum weighs the batch, whose variance
                # enters unbiased (divided by count - 1 > 0, checked before)
                keep = 1.0 - momentum
                running_mean[c] = momentum * mean[c] + keep * np.float64(running_mean[c])
                unbiased = var[c] / (count - 1)
                running_var[c] = momentum * unbiased + keep * np.float64(running_var[c])
        else:
            for c in range(c0, c1):
                mean[c] = running_mean[c]
                invstd[c] = 1.0 / np.sqrt(np.float64(running_var[c]) + eps)
        # pass 3: normalise, scale and shift
        for t0 in range(m0, m1, TILE):
            w = min(TILE, m1 - t0)
            c = t0 // L
            l = t0 - c * L
            for j in range(w):
                col_mean[j] = mean[c]
                col_scale[j] = np.float64(gamma[c]) * invstd[c]
                col_shift[j] = beta[c]
                l += 1
                if l == L:
                    l = 0
                    c += 1
            for n in range(N):
                xr = x2[n, t0:t0 + w]
                outr = out2[n, t0:t0 + w]
                for j in range(w):
                    outr[j] = (xr[j] - col_mean[j]) * col_scale[j] + col_shift[j]


@kernel
def batchnorm_backward_kernel(dy2, x2, dx2, L, gamma, mean, invstd, training, dgamma, dbeta,
                              group):
    r"""dx, dgamma and dbeta in two passes over (x, dout).

    The compact form (CS231n's one-line batchnorm backward) instead of
    back-propagating through the staged graph x -> mu -> var -> xhat -> y:
    with :math:`\hat x = (x-\mu)\sigma^{-1}`,

    .. math::
        dx = \frac{\gamma}{\sigma}\Big(dy - \frac{1}{M}\sum dy
             - \hat x \,\frac{1}{M}\sum dy\,\hat x\Big).

    It needs only two per-channel sums (which are also dbeta and dgamma), so
    one pass reads x and dout and a second writes dx: no intermediate arrays
    for d(xhat), d(var), d(mu), less memory traffic and fewer roundings.  In
    eval mode mean and invstd are constants and dx = dy * gamma * invstd.
    """
    N = x2.shape[0]
    C = gamma.size
    count = N * L
    ngroups = (C + group - 1) // group
    for g in prange(ngroups):
        c0 = g * group
        c1 = min(C, c0 + group)
        m0 = c0 * L
        m1 = c1 * L
        acc_dy = np.empty(TILE, np.float64)
        acc_dot = np.empty(TILE, np.float64)
        col_mean = np.empty(TILE, np.float64)
        col_k = np.empty(TILE, np.float64)
        col_dmean = np.empty(TILE, np.float64)
        col_scale = np.empty(TILE, np.float64)
        for c in range(c0, c1):
            dbeta[c] = 0.0
            dgamma[c] = 0.0  # holds sum(dy * (x - mean)) until the end
        # pass 1: sum(dy) and sum(dy * (x - mean)) per channel
        for t0 in range(m0, m1, TILE):
            w = min(TILE, m1 - t0)
            c = t0 // L
            l = t0 - c * L
            for j in range(w):
                acc_dy[j] = 0.0
                acc_dot[j] = 0.0
                col_mean[j] = mean[c]
                l += 1
                if l == L:
                    l = 0
                    c += 1
            for n in range(N):
                dyr = dy2[n, t0:t0 + w]
                xr = x2[n, t0:t0 + w]
                for j in range(w):
                    dy = np.float64(dyr[j])
                    acc_dy[j] += dy
                    acc_dot[j] += dy * (xr[j] - col_mean[j])
            c = t0 // L
            l = t0 - c * L
            for j in range(w):
                dbeta[c] += acc_dy[j]
                dgamma[c] += acc_dot[j]
                l += 1
                if l == L:
                    l = 0
                    c += 1
        # pass 2: dx = (dy - mean(dy) - (x - mean) * k) * gamma * invstd,
        # k = mean(dy * (x - mean)) * invstd^2; k and mean(dy) vanish in eval
        for t0 in range(m0, m1, TILE):
            w = min(TILE, m1 - t0)
            c = t0 // L
            l = t0 - c * L
            for j in range(w):
                col_mean[j] = mean[c]
                col_scale[j] = np.float64(gamma[c]) * invstd[c]
                if training:
                    col_k[j] = dgamma[c] / count * invstd[c] * invstd[c]
                    col_dmean[j] = dbeta[c] / count
                else:
                    col_k[j] = 0.0
                    col_dmean[j] = 0.0
                l += 1
                if l == L:
                    l = 0
                    c += 1
            for n in range(N):
                dyr = dy2[n, t0:t0 + w]
                xr = x2[n, t0:t0 + w]
                dxr = dx2[n, t0:t0 + w]
                for j in range(w):
                    xc = xr[j] - col_mean[j]
                    dxr[j] = (dyr[j] - col_dmean[j] - xc * col_k[j]) * col_scale[j]
        for c in range(c0, c1):
            dgamma[c] = dgamma[c] * invstd[c]


class BatchNormCache(NamedTuple):
    """What :func:`batchnorm_backward` needs from the forward pass.

    ``x`` is the caller's input array, not a copy: modifying it in place
    between forward and backward changes the gradients.  ``mean`` and
    ``invstd`` are float64 copies (batch statistics in training, the running
    ones in eval), so later updates of the running statistics do not.
    """

    x: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray
    invstd: np.ndarray
    training: bool


def _layout(x: np.ndarray) -> tuple[int, int, int]:
    N, C = x.shape[:2]
    return N, C, math.prod(x.shape[2:])


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                      eps=1e-5):
    r"""Batch normalisation, torch's ``F.batch_norm``: returns ``(out, cache)``.

    For each channel :math:`c` (axis 1 of ``x``; statistics over every other
    axis, :math:`M = N \cdot H \cdot W` values):

    .. math::
        \begin{aligned}
        \mu_c &= \frac{1}{M}\sum x, \qquad
        \sigma_c^2 = \frac{1}{M}\sum (x - \mu_c)^2 \\
        y &= \gamma_c\,\frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c
        \end{aligned}

    In training the batch statistics are used (biased variance), and the
    running statistics are updated in place the way torch does it, with
    ``momentum`` weighing the new batch and the *unbiased* variance:

    .. math::
        \hat\mu \leftarrow (1-m)\,\hat\mu + m\,\mu_c, \qquad
        \hat\sigma^2 \leftarrow (1-m)\,\hat\sigma^2 + m\,\tfrac{M}{M-1}\sigma_c^2 .

    Beware: CS231n's ``momentum`` (0.9) weighs the *old* running value, so
    torch's (and our) 0.1 is 1 minus it.  torch's ``momentum=None``
    (a cumulative average) is not offered.  With ``training=False`` the
    running statistics normalise and nothing is updated.

    Args:
        x: (N, C) or (N, C, H, W) (any (N, C, *) works), float32 or float64,
            C-contiguous.
        gamma, beta: (C,) scale and shift, x's dtype.
        running_mean, running_var: (C,), x's dtype, writeable in training.
        training: batch statistics and update (True) or running ones (False).
        momentum: in [0, 1].
        eps: > 0, added to the variance.

    Returns:
        ``out`` (x's shape and dtype) and a :class:`BatchNormCache`.

    Raises:
        ValueError: wrong shapes, a non-contiguous array, out-of-range
            momentum/eps, an empty x, or a single value per channel in
            training (M = 1).
        TypeError: non-array or non-float input, mixed dtypes, non-bool training.
    """
    owner = "batchnorm_forward"
    x = _common.array(x, "x", owner, min_ndim=2)
    if x.size == 0:
        raise ValueError(f"{owner}: x has shape {x.shape}, no values to normalise")
    N, C, L = _layout(x)
    training = _checks.boolean(training, "training", owner)
    gamma = _common.array(gamma, "gamma", owner, dtype=x.dtype, shape=(C,))
    beta = _common.array(beta, "beta", owner, dtype=x.dtype, shape=(C,))
    running_mean = _common.array(running_mean, "running_mean", owner, dtype=x.dtype, shape=(C,),
                                 writeable=training)
    running_var = _common.array(running_var, "running_var", owner, dtype=x.dtype, shape=(C,),
                                writeable=training)
    if np.may_share_memory(running_mean, running_var):
        raise ValueError(f"{owner}: running_mean and running_var share memory")
    momentum = _checks.unit_interval(momentum, "momentum", owner, closed=True)
    eps = _checks.positive(eps, "eps", owner)
    if training and N * L == 1:
        raise ValueError(
            f"{owner}: x has shape {x.shape}, so each channel has a single value in training "
            "(N*H*W == 1): its batch variance is 0 and its unbiased variance (divided by "
            "N*H*W - 1 = 0) is undefined, so there is nothing to normalise with. Use a batch "
            "of at least 2 values per channel, or training=False (as torch requires too)")

    if not training:
        # Eval may be given read-only statistics, but Numba types a read-only
        # array as such and will not compile the (untaken) in-place update
        # for it; C numbers are cheap to copy.
        running_mean = running_mean if running_mean.flags.writeable else running_mean.copy()
        running_var = running_var if running_var.flags.writeable else running_var.copy()
    mean, var, invstd = np.empty((3, C))
    out = np.empty_like(x)
    batchnorm_forward_kernel(x.reshape(N, C * L), out.reshape(N, C * L), L, gamma, beta,
                             running_mean, running_var, mean, var, invstd, training, momentum,
                             eps, _group_size(C, L))
    return out, BatchNormCache(x, gamma, mean, invstd, training)


def batchnorm_backward(dout, cache):
    r"""Gradients of :func:`batchnorm_forward`: returns ``(dx, dgamma, dbeta)``.

    With :math:`\hat x = (x - \mu)/\sqrt{\sigma^2+\epsilon}` and M values per
    channel,

    .. math::
        \begin{aligned}
        d\beta &= \sum dy, \qquad d\gamma = \sum dy\,\hat x \\
        dx &= \frac{\gamma}{\sqrt{\sigma^2+\epsilon}}
              \Big(dy - \tfrac{1}{M}\,d\beta - \hat x\,\tfrac{1}{M}\,d\gamma\Big)
              \quad\text{(training)}, \qquad
        dx = \frac{\gamma\,dy}{\sqrt{\hat\sigma^2+\epsilon}} \quad\text{(eval)}.
        \end{aligned}

    In training the mean and variance depend on x, which gives the two
    projection terms; in eval the layer is an affine map.  All three have
    the dtype of x.
    """
    owner = "batchnorm_backward"
    cache = _common.cache(cache, BatchNormCache, owner)
    x = _common.array(cache.x, "cache.x", owner, min_ndim=2)
    if x.size == 0:
        raise ValueError(f"{owner}: cache.x has shape {x.shape}, no values")
    N, C, L = _layout(x)
    gamma = _common.array(cache.gamma, "cache.gamma", owner, dtype=x.dtype, shape=(C,))
    mean = _common.statistic(cache.mean, "cache.mean", owner, C)
    invstd = _common.statistic(cache.invstd, "cache.invstd", owner, C)
    training = _checks.boolean(cache.training, "cache.training", owner)
    dout = _common.dout(dout, x, owner)
    dx = np.empty_like(x)
    dgamma = np.empty(C, np.float64)
    dbeta = np.empty(C, np.float64)
    batchnorm_backward_kernel(dout.reshape(N, C * L), x.reshape(N, C * L), dx.reshape(N, C * L),
                              L, gamma, mean, invstd, training, dgamma,
                              dbeta, _group_size(C, L))
    return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)
