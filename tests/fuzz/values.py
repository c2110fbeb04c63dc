"""Strategies of values, malformed and plausible, shared by every argument.

Everything here is data; nothing calls the library.  Arrays that a callable
may legitimately accept are *guarded*: views into a buffer padded with a
canary on both sides, so a kernel that writes past the end of its array
(the failure a missing shape check lets through silently) is caught when the
canaries are compared after the call.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

FLOATS = (np.float32, np.float64)
_PAD = 16
_CANARY = -7777.25  # exact in float16/32/64


class Guards:
    """The canary-padded buffers handed out during one example."""

    #: the example being drawn (set by :meth:`start`)
    current: "Guards"

    def __init__(self):
        self._buffers: list[tuple[np.ndarray, bytes]] = []

    @classmethod
    def start(cls) -> "Guards":
        cls.current = cls()
        return cls.current

    def array(self, shape, dtype, fill: str, seed: int, *, readonly: bool = False) -> np.ndarray:
        n = math.prod(shape)
        buf = np.empty(n + 2 * _PAD, dtype)
        buf[:_PAD] = _CANARY
        buf[_PAD + n:] = _CANARY
        a = buf[_PAD:_PAD + n].reshape(shape)
        with np.errstate(over="ignore"):  # 1e300 in float32 is inf, on purpose
            a[...] = _fill(shape, fill, seed)
        self._buffers.append((buf, buf[:_PAD].tobytes() + buf[_PAD + n:].tobytes()))
        if readonly:
            a.flags.writeable = False
        return a

    def trampled(self) -> list[str]:
        """Descriptions of the buffers whose canaries were overwritten."""
        out = []
        for buf, saved in self._buffers:
            n = buf.size - 2 * _PAD
            now = buf[:_PAD].tobytes() + buf[_PAD + n:].tobytes()
            if now != saved:
                out.append(f"a {buf.dtype} array of {n} elements was written out of bounds")
        return out


def _fill(shape, fill: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if fill == "zeros":
        return np.zeros(shape)
    if fill == "normal":
        return rng.standard_normal(shape)
    if fill == "huge":
        return rng.choice([1e300, -1e300, 3e38, -3e38, 1.0], size=shape)
    if fill == "nonfinite":
        return rng.choice([np.nan, np.inf, -np.inf, 0.0, 1.0], size=shape)
    if fill == "tiny":
        return rng.choice([5e-324, -5e-324, 1e-310, 0.0, -0.0], size=shape)
    raise AssertionError(fill)


FILLS = st.sampled_from(["normal", "normal", "zeros", "huge", "nonfinite", "tiny"])
SEEDS = st.integers(0, 2**16)


def guarded(guards: Guards, shape, dtype=None, *, readonly_ok: bool = False):
    """A plausible C-contiguous float array of ``shape`` (dtype drawn if None)."""
    dtypes = st.sampled_from(FLOATS) if dtype is None else st.just(dtype)
    readonly = st.booleans() if readonly_ok else st.just(False)
    return st.builds(lambda d, f, s, r: guards.array(tuple(shape), d, f, s, readonly=r),
                     dtypes, FILLS, SEEDS, readonly)


def small_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4):
    return st.lists(st.integers(min_side, max_side), min_size=min_dims,
                    max_size=max_dims).map(tuple)


# -- malformed arrays ---------------------------------------------------------

class SubArray(np.ndarray):
    """An ndarray subclass, as a student's or a library's might be."""


_BAD_DTYPES = [np.int64, np.int32, np.uint8, np.bool_, np.complex128, np.complex64, np.float16,
               np.longdouble, object, ">f8", ">f4", "U3", "S2", "M8[s]"]


def _bad_array(kind: str, shape: tuple, dtype, seed: int):
    """One malformed variant of an array of ``shape`` and ``dtype``."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(shape).astype(dtype)
    if kind == "dtype":
        bad = _BAD_DTYPES[seed % len(_BAD_DTYPES)]
        try:
            return base.astype(bad)
        except (TypeError, ValueError):
            return np.zeros(shape, dtype=bad)
    if kind == "strided":
        wide = rng.standard_normal((*shape[:-1], 2 * shape[-1] if shape else 2)).astype(dtype)
        return wide[..., ::2] if shape else wide[::2]
    if kind == "reversed":
        return base[::-1] if base.ndim else base
    if kind == "fortran":
        return np.asfortranarray(base) if base.ndim >= 2 else base.T
    if kind == "transposed":
        return base.T
    if kind == "readonly":
        base.flags.writeable = False
        return base
    if kind == "unaligned":
        raw = bytearray(base.nbytes + 1)
        a = np.frombuffer(raw, dtype=base.dtype, count=base.size, offset=1).reshape(shape)
        a[...] = base
        return a
    if kind == "broadcast":  # zero strides, read-only
        return np.broadcast_to(np.asarray(1.0, dtype), shape)
    if kind == "zero_d":
        return np.asarray(1.5, dtype)
    if kind == "empty":
        return np.empty((0,), dtype)
    if kind == "empty_rows":
        return np.empty((0, *shape[1:]), dtype)
    if kind == "huge_rank":
        return np.ones((1,) * 32, dtype)
    if kind == "extra_dim":
        return base[..., None]
    if kind == "fewer_dims":
        return base.reshape(-1)[:1].reshape(()) if base.ndim <= 1 else base[0]
    if kind == "longer":
        return np.ones(tuple(s + 1 for s in shape) or (2,), dtype)
    if kind == "subclass":
        return base.view(SubArray)
    if kind == "masked":
        return np.ma.masked_array(base, mask=True)
    if kind == "matrix":
        return np.asmatrix(base.reshape(base.shape[0] if base.ndim else 1, -1))
    if kind == "list":
        return base.tolist()
    if kind == "nested_list":
        return [base.tolist(), [[1.0], "x"]]
    raise AssertionError(kind)


ARRAY_KINDS = ["dtype", "dtype", "dtype", "strided", "reversed", "fortran", "transposed",
               "readonly", "unaligned", "broadcast", "zero_d", "empty", "empty_rows",
               "huge_rank", "extra_dim", "fewer_dims", "longer", "subclass", "masked", "matrix",
               "list", "nested_list"]


def bad_arrays(shape=None, dtype=None):
    """Malformed variants of an array of ``shape`` and ``dtype`` (drawn if None)."""
    shapes = small_shapes(1, 3) if shape is None else st.just(tuple(shape))
    dtypes = st.sampled_from(FLOATS) if dtype is None else st.just(dtype)
    return st.builds(_bad_array, st.sampled_from(ARRAY_KINDS), shapes, dtypes, SEEDS)


# -- malformed scalars and objects ----------------------------------------------

class Weird:
    """An object nothing in the library should know what to do with."""

    def __repr__(self) -> str:
        return "Weird()"


class MyFloat(float):
    pass


class MyInt(int):
    pass


def _callable_returning(v):
    f = lambda *args, **kwargs: v  # noqa: E731
    f.__qualname__ = f"returns({v!r})"
    return f


BAD_NUMBERS = [math.nan, math.inf, -math.inf, -1.0, -1e-300, -0.0, 0.0, 1e308, -1e308, 5e-324,
               10**400, -10**400, 2**63, 2**64, -2**63 - 1, 10**30, -1,
               np.float32("nan"), np.float64(-1.0), np.float16(1.0), np.int64(-1),
               np.uint64(2**64 - 1), np.int8(-128), np.longdouble("1e4000"),
               Fraction(1, 3), Fraction(10**400, 3), Decimal("0.1"), Decimal("nan"),
               complex(0.1, 0.0), np.complex128(1.0), True, False, np.bool_(True),
               MyFloat(0.5), MyInt(3), MyFloat("nan")]

JUNK = [None, "", "0.1", "adam", b"1", [], [0.1], [[0.1], [0.2, [0.3]]], (), (0.1, 0.2, 0.3),
        {}, {"lr": 0.1}, {0.1}, Weird(), object, print, _callable_returning(math.nan),
        np.array(0.5), np.array([0.5]), np.array(["a"]), np.array([None], dtype=object),
        slice(1), Ellipsis, NotImplemented, range(3), iter([1.0])]

bad_numbers = st.sampled_from(BAD_NUMBERS)
junk = st.sampled_from(JUNK) | bad_numbers
nasty_floats = st.floats(allow_nan=True, allow_infinity=True) | bad_numbers
overflow_ints = st.sampled_from([2**63, 2**64, 10**30, -2**63 - 1, -(10**30)])
# Sizes stay small or overflow outright: a legal size of 10**10 would only
# measure the machine's memory.
bad_ints = (st.integers(-5, -1) | overflow_ints
            | st.sampled_from([1.5, 2.0, math.nan, math.inf, np.float64(3.0), True, np.bool_(False),
                               "3", None, Fraction(3, 1), complex(3, 0), np.int64(-2),
                               np.uint64(2**64 - 1)]))
user_callables = st.sampled_from(
    [_callable_returning(v) for v in (math.nan, math.inf, -1.0, 0.0, 1e308, "x", None, 1j,
                                      [1.0, 2.0], np.array([1.0, 2.0, 3.0]), np.array("s"),
                                      Weird(), 10**400, True, np.array([[np.nan]]))])
