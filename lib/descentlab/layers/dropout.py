r"""Inverted dropout (Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov,
*Dropout: A Simple Way to Prevent Neural Networks from Overfitting*, JMLR 2014).

During training each unit is dropped (set to 0) with probability ``p`` and
the kept ones are scaled by :math:`1/(1-p)`, so the expected output equals
the input and evaluation needs no rescaling: at test time the layer is the
identity.  (The paper instead scales the weights by :math:`1-p` at test
time; "inverted" dropout moves that factor into training, as torch does.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from . import _common

__all__ = ["DropoutCache", "dropout_forward", "dropout_backward"]


@kernel
def dropout_kernel(x, keep, scale, out):
    """out = x * noise with noise = keep * scale, torch's arithmetic to the bit.

    torch multiplies by a noise tensor of 0 and 1/(1-p) rather than selecting,
    so a dropped -3.0 gives -0.0 and a dropped inf gives nan; so do we.
    """
    zero = scale - scale
    for i in prange(x.size):
        out[i] = x[i] * (scale if keep[i] else zero)


class DropoutCache(NamedTuple):
    """What :func:`dropout_backward` needs: the kept-unit mask (None when the
    forward pass was the identity) and the scale :math:`1/(1-p)` in x's dtype."""

    keep: np.ndarray | None
    scale: np.floating
    shape: tuple[int, ...]
    dtype: np.dtype


def dropout_forward(x, p=0.5, training=True, rng=None):
    r"""Inverted dropout, torch's ``F.dropout``: returns ``(out, cache)``.

    .. math::
        \text{out}_i = \frac{k_i}{1-p}\,x_i, \qquad k_i \sim \text{Bernoulli}(1-p)
        \text{ independently},

    so :math:`E[\text{out}_i] = x_i`.  With ``training=False`` or ``p == 0``
    the layer is the identity (``out`` is then a copy of ``x``: it is always
    a new array).

    Args:
        x: float32 or float64 array of any shape, C-contiguous.
        p: probability of *dropping* a unit, in [0, 1).
        training: drop (True) or pass through (False).
        rng: a ``numpy.random.Generator`` (used and advanced), an int seed (the
            same mask on every call), or None (a fresh generator).

    The scale is computed as torch computes it, ``dtype(1) / dtype(1 - p)``,
    and the mask is drawn as ``rng.random(x.shape) >= p``.  torch draws from
    its own generator, so the masks differ; the distributions do not.
    """
    owner = "dropout_forward"
    x = _common.array(x, "x", owner)
    p = _checks.unit_interval(p, "p", owner)
    training = _checks.boolean(training, "training", owner)
    rng = _checks.generator(rng, "rng", owner)
    f = x.dtype.type
    scale = f(1.0) / f(1.0 - p)
    if not training or p == 0.0:
        return x.copy(), DropoutCache(None, scale, x.shape, x.dtype)
    keep = np.asarray(rng.random(x.shape) >= p)  # an array even for 0-d x
    out = np.empty_like(x)
    dropout_kernel(x.reshape(-1), keep.reshape(-1), scale, out.reshape(-1))
    return out, DropoutCache(keep, scale, x.shape, x.dtype)


def dropout_backward(dout, cache):
    r"""Gradient of :func:`dropout_forward`: :math:`dx_i = \frac{k_i}{1-p}\,dout_i`,
    with the forward pass's own mask (the identity when it was the identity)."""
    owner = "dropout_backward"
    cache = _common.cache(cache, DropoutCache, owner)
    dout = _common.array(dout, "dout", owner)
    if dout.shape != cache.shape:
        raise ValueError(f"{owner}: dout has shape {dout.shape}, but the forward input had "
                         f"shape {cache.shape}")
    if dout.dtype != cache.dtype:
        raise TypeError(f"{owner}: dout has dtype {dout.dtype}, but the forward input had "
                        f"dtype {cache.dtype}")
    if cache.keep is None:
        return dout.copy()
    keep = cache.keep
    if (not isinstance(keep, np.ndarray) or keep.dtype != np.bool_ or keep.shape != dout.shape
            or not keep.flags.c_contiguous):
        raise ValueError(f"{owner}: cache.keep must be None or a C-contiguous bool mask of "
                         f"shape {dout.shape}, got {_describe(keep)}")
    # the kernel is compiled for a scale of the array's own dtype
    scale = dout.dtype.type(_checks.real(cache.scale, "cache.scale", owner))
    dx = np.empty_like(dout)
    dropout_kernel(dout.reshape(-1), keep.reshape(-1), scale, dx.reshape(-1))
    return dx


def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"an array of dtype {a.dtype} and shape {a.shape}"
    return type(a).__name__
