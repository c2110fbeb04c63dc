"""Argument validation shared by every public function.

Compiled kernels index raw memory without bounds checks, so nothing reaches
them unchecked: every public entry point validates here first.  Errors are
ValueError (a value out of range, a wrong shape or count) or TypeError (a
wrong kind of object or dtype), and the message names the argument and the
value it got.
"""

from __future__ import annotations

import math
import numbers
import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _where(owner: str | None, name: str) -> str:
    return f"{owner}: {name}" if owner else name


def real(value, name: str, owner: str | None = None) -> float:
    """A finite-or-infinite real number (not bool, not NaN) as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_where(owner, name)} must be a real number, got {value!r} "
                        f"of type {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an int or Fraction beyond the float range
        raise ValueError(f"{_where(owner, name)} is too large for a float, got "
                         f"{_short(value)}") from None
    if math.isnan(value):
        raise ValueError(f"{_where(owner, name)} must be a number, got nan")
    return value


def _short(value) -> str:
    # a huge int's repr runs to hundreds of digits (and past 4300 refuses)
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else \
        f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    return text if len(text) <= 80 else text[:77] + "..."


def nonnegative(value, name: str, owner: str | None = None) -> float:
    x = real(value, name, owner)
    if not x >= 0.0 or math.isinf(x):
        raise ValueError(f"{_where(owner, name)} must be finite and >= 0, got {value!r}")
    return x


def positive(value, name: str, owner: str | None = None) -> float:
    x = real(value, name, owner)
    if not x > 0.0 or math.isinf(x):
        raise ValueError(f"{_where(owner, name)} must be finite and > 0, got {value!r}")
    return x


def unit_interval(value, name: str, owner: str | None = None, *, closed: bool = False) -> float:
    """A number in [0, 1), or [0, 1] with ``closed=True``."""
    x = real(value, name, owner)
    ok = 0.0 <= x <= 1.0 if closed else 0.0 <= x < 1.0
    if not ok:
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{_where(owner, name)} must lie in {interval}, got {value!r}")
    return x


def betas(value, name: str = "betas", owner: str | None = None) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{_where(owner, name)} must be a pair (beta1, beta2), got {value!r}")
    return (unit_interval(value[0], f"{name}[0]", owner),
            unit_interval(value[1], f"{name}[1]", owner))


def boolean(value, name: str, owner: str | None = None) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_where(owner, name)} must be True or False, got {value!r}")
    return bool(value)


def integer(value, name: str, owner: str | None = None, *, minimum: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_where(owner, name)} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{_where(owner, name)} must be >= {minimum}, got {value}")
    return value


def float_array(a, name: str, owner: str | None = None, *, writeable: bool = False) -> np.ndarray:
    """A C-contiguous float32 or float64 ndarray, returned as is (never copied)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{_where(owner, name)} must be a numpy array, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{_where(owner, name)} must have dtype float32 or float64, got {a.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{_where(owner, name)} must be C-contiguous "
                         f"(got strides {a.strides} for shape {a.shape}); "
                         "pass np.ascontiguousarray(...) instead")
    if writeable and not a.flags.writeable:
        raise ValueError(f"{_where(owner, name)} is read-only, but it is updated in place")
    return a


def params(value, owner: str | None = None) -> list[np.ndarray]:
    """The parameter list of an optimizer: distinct, writeable float arrays."""
    if isinstance(value, np.ndarray):
        raise TypeError(f"{_where(owner, 'params')} must be a list of arrays; "
                        "wrap a single array as [array]")
    try:
        value = list(value)
    except TypeError:
        raise TypeError(f"{_where(owner, 'params')} must be a list of numpy arrays, "
                        f"got {type(value).__name__}") from None
    if not value:
        raise ValueError(f"{_where(owner, 'params')} is an empty list; "
                         "an optimizer needs at least one array")
    out = [float_array(p, f"params[{i}]", owner, writeable=True) for i, p in enumerate(value)]
    for i in range(len(out)):
        for j in range(i):
            if np.may_share_memory(out[i], out[j]):
                raise ValueError(f"{_where(owner, f'params[{i}]')} shares memory with "
                                 f"params[{j}]; each parameter must be its own array")
    return out


def like(arrays, name: str, reference: list[np.ndarray], ref_name: str,
         owner: str | None = None) -> list[np.ndarray]:
    """Arrays that match ``reference`` one for one in count, shape and dtype."""
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{_where(owner, name)} must be a list of numpy arrays, "
                        f"got {type(arrays).__name__}")
    if len(arrays) != len(reference):
        raise ValueError(f"{_where(owner, name)} has {len(arrays)} arrays, but there are "
                         f"{len(reference)} {ref_name} (one each)")
    for i, (a, r) in enumerate(zip(arrays, reference)):
        float_array(a, f"{name}[{i}]", owner)
        if a.shape != r.shape:
            raise ValueError(f"{_where(owner, f'{name}[{i}]')} has shape {a.shape}, "
                             f"but {ref_name}[{i}] has shape {r.shape}")
        if a.dtype != r.dtype:
            raise TypeError(f"{_where(owner, f'{name}[{i}]')} has dtype {a.dtype}, "
                            f"but {ref_name}[{i}] has dtype {r.dtype}")
    return list(arrays)


def generator(value, name: str = "rng", owner: str | None = None) -> np.random.Generator:
    """A ``numpy.random.Generator``: one given, one seeded by an int, or a fresh one for None.

    A Generator passed in is used as is (and advanced), so successive calls
    draw fresh numbers; an int seed gives the same numbers on every call.
    """
    if value is None:
        return np.random.default_rng()
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_where(owner, name)} must be a numpy.random.Generator, an int seed "
                        f"or None, got {value!r} of type {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{_where(owner, name)} must be a seed >= 0, got {value!r}")
    return np.random.default_rng(int(value))
