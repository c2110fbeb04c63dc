"""Planted faults, to show that the fuzz harness catches each kind it claims to.

``python -m tests.fuzz.worker planted N planted.<name>`` fuzzes one of them.
Each function misbehaves only on some inputs, so Hypothesis has to find them.
"""

from __future__ import annotations

import ctypes

import numpy as np

from .registry import Target


def _array(x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be an array, got {type(x).__name__}")


def segfaults(x):
    """Dereferences NULL for a float32 input: the child dies of SIGSEGV."""
    _array(x)
    if x.dtype == np.float32:
        ctypes.string_at(0)
    return x


def leaks_index_error(x):
    """Indexes past the end for 1-D input instead of validating it."""
    _array(x)
    return x[x.shape[0]] if x.ndim == 1 else x


def writes_out_of_bounds(x):
    """Writes one element past the end of a float64 array, and returns quietly."""
    _array(x)
    if x.dtype == np.float64 and x.size:
        np.lib.stride_tricks.as_strided(x.reshape(-1), shape=(x.size + 1,))[x.size] = 0.0
    return x


def refuses_properly(x):
    """Does what the library must: only ValueError or TypeError."""
    _array(x)
    if x.ndim == 1:
        raise ValueError(f"x must not be 1-D, got shape {x.shape}")
    return x


def targets() -> list[Target]:
    return [Target(f"planted.{f.__name__}", "planted", None, f)
            for f in (segfaults, leaks_index_error, writes_out_of_bounds, refuses_properly)]
