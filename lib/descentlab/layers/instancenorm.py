r"""Instance normalisation (Ulyanov, Vedaldi & Lempitsky, *Instance
Normalization: The Missing Ingredient for Fast Stylization*, 2016).

Each channel of each sample is normalised over its spatial positions alone:
group normalisation with one channel per group (G = C), which is how it is
computed here (the kernels of :mod:`.groupnorm`, same determinism and
precision).  torch's ``F.instance_norm`` can also keep running statistics
(``track_running_stats``); its default, and the layer here, does not, so
training and evaluation compute the same thing.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _common
from .groupnorm import _backward, _check, _forward

__all__ = ["InstanceNormCache", "instancenorm_forward", "instancenorm_backward"]


class InstanceNormCache(NamedTuple):
    """What :func:`instancenorm_backward` needs: the caller's ``x`` (not a
    copy; do not modify it before backward), ``gamma``, and per-(sample,
    channel) float64 ``mean`` and ``rstd`` :math:`= 1/\\sqrt{\\sigma^2+\\epsilon}`,
    each of shape (N·C,)."""

    x: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray
    rstd: np.ndarray


def instancenorm_forward(x, gamma, beta, eps=1e-5):
    r"""Instance normalisation, torch's ``F.instance_norm(x, weight=gamma, bias=beta, eps=eps)``.

    For sample n and channel c, over its L = H·W positions:

    .. math::
        \mu_{nc} = \frac{1}{L}\sum_l x_{ncl}, \qquad
        \sigma^2_{nc} = \frac{1}{L}\sum_l (x_{ncl}-\mu_{nc})^2, \qquad
        y_{ncl} = \gamma_c\,\frac{x_{ncl}-\mu_{nc}}{\sqrt{\sigma^2_{nc}+\epsilon}} + \beta_c .

    Args:
        x: (N, C, L) or (N, C, H, W) (any (N, C, *) with at least one
            spatial axis), float32 or float64, C-contiguous, with at least 2
            spatial positions (one position has nothing to normalise over;
            torch refuses it too).
        gamma, beta: (C,) per-channel scale and shift, x's dtype.
        eps: > 0, added to the variance.

    Returns:
        ``out`` (x's shape and dtype) and an :class:`InstanceNormCache`.

    Raises:
        ValueError: fewer than 3 axes, a single spatial position, wrong
            shapes, non-contiguous arrays, eps <= 0.
        TypeError: non-array or non-float input, mixed dtypes.
    """
    owner = "instancenorm_forward"
    x, gamma, beta, eps = _check(x, gamma, beta, eps, owner, min_ndim=3)
    L = math.prod(x.shape[2:])
    if L < 2:
        raise ValueError(f"{owner}: x has shape {x.shape}, so each channel of a sample has "
                         f"{L} spatial value(s); instance norm needs at least 2 (as torch does)")
    C = x.shape[1]
    out, mean, rstd = _forward(x, gamma, beta, C, eps)
    return out, InstanceNormCache(x, gamma, mean, rstd)


def instancenorm_backward(dout, cache):
    r"""Gradients of :func:`instancenorm_forward`: returns ``(dx, dgamma, dbeta)``.

    With :math:`\hat x = (x-\mu_{nc})/\sqrt{\sigma^2_{nc}+\epsilon}`, within
    each (sample, channel) of L values

    .. math::
        dx = \frac{\gamma_c}{\sqrt{\sigma^2_{nc}+\epsilon}}\Big(dy - \tfrac{1}{L}\textstyle\sum dy
             - \hat x\,\tfrac{1}{L}\sum dy\,\hat x\Big),

    and :math:`d\gamma_c = \sum_{n,l} dy\,\hat x`, :math:`d\beta_c = \sum_{n,l} dy`.
    All three have the dtype of x.
    """
    owner = "instancenorm_backward"
    cache = _common.cache(cache, InstanceNormCache, owner)
    dout = _common.dout(dout, cache.x, owner)
    return _backward(dout, cache.x, cache.gamma, cache.x.shape[1], cache.mean, cache.rstd)
