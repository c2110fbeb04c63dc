"""Checks shared by the layers: arrays, and the caches passed to backward.

Policy on memory layout: arrays must be C-contiguous, as everywhere in
descentlab.  A non-contiguous array (a transpose, a strided slice) is
refused with a ValueError that says to pass ``np.ascontiguousarray(...)``;
nothing is copied behind the caller's back, so a forward pass never hides an
O(n) copy and the cache always holds the caller's own array.
"""

from __future__ import annotations

import numpy as np

from .. import _checks


def array(a, name: str, owner: str, *, dtype=None, shape=None, writeable: bool = False,
          min_ndim: int = 0) -> np.ndarray:
    """A C-contiguous float32/float64 array, optionally of a given dtype and shape."""
    _checks.float_array(a, name, owner, writeable=writeable)
    if a.ndim < min_ndim:
        raise ValueError(f"{owner}: {name} must have at least {min_ndim} dimensions, "
                         f"got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{owner}: {name} must have shape {shape}, got {a.shape}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{owner}: {name} has dtype {a.dtype}, but x has dtype {np.dtype(dtype)}; "
                        "the layer works in one precision")
    return a


def cache(value, kind: type, owner: str):
    # Its fields are checked by each backward function too: a cache is only a
    # named tuple, and one rebuilt with _replace reaches the kernels otherwise.
    if not isinstance(value, kind):
        raise TypeError(f"{owner}: cache must be the {kind.__name__} returned by the matching "
                        f"forward function, got {type(value).__name__}")
    return value


def statistic(value, name: str, owner: str, size: int) -> np.ndarray:
    """A per-channel or per-row float64 statistic held in a cache, of ``size`` values."""
    _checks.float_array(value, name, owner)
    if value.dtype != np.float64 or value.shape != (size,):
        raise ValueError(f"{owner}: {name} must be float64 of shape ({size},), "
                         f"got {value.dtype} of shape {value.shape}")
    return value


def dout(value, like: np.ndarray, owner: str) -> np.ndarray:
    """The upstream gradient: same shape and dtype as the forward input."""
    return array(value, "dout", owner, dtype=like.dtype, shape=like.shape)
