r"""The test functions' formulas, compiled: value and analytic gradient together.

Every surface is one small scalar function ``(c, x, y) -> (f, df/dx, df/dy)``
of its coefficient array ``c``, inlined into :func:`evaluate`, which picks one
by an integer ``kind``.  The compiled trajectory loops call ``evaluate``.

Why an integer and not a function argument: a Numba function that takes
another compiled function as an argument gets a new type for every function
it is given, and such signatures do not survive Numba's on-disk cache from one
process to the next.  A ``kind`` switch keeps every signature plain
(``int64, float64[::1], float64, float64``), so one cached compilation serves
every surface.

The formulas use ``math`` (scalar libm calls) and never ``**``, so the
compiled code and its pure-Python fallback (NUMBA_DISABLE_JIT=1) give the
same bits, and a diverging run overflows to inf instead of raising.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import inline, jit

__all__ = ["QUADRATIC", "ROSENBROCK", "BEALE", "HIMMELBLAU", "SADDLE", "RASTRIGIN",
           "GAUSSIANS", "RAVINE", "evaluate", "evaluate_many"]

QUADRATIC, ROSENBROCK, BEALE, HIMMELBLAU, SADDLE, RASTRIGIN, GAUSSIANS, RAVINE = range(8)

TWO_PI = 2.0 * math.pi


@inline
def _quadratic(c, x, y):
    """c = (lam_min, lam_max, cos(angle), sin(angle))."""
    lam_min, lam_max, cs, sn = c[0], c[1], c[2], c[3]
    u = cs * x + sn * y
    v = cs * y - sn * x
    gu = lam_min * u
    gv = lam_max * v
    return 0.5 * (gu * u + gv * v), cs * gu - sn * gv, sn * gu + cs * gv


@inline
def _rosenbrock(c, x, y):
    """c = (a, b)."""
    a, b = c[0], c[1]
    dx = a - x
    r = y - x * x
    return dx * dx + b * r * r, -2.0 * dx - 4.0 * b * x * r, 2.0 * b * r


@inline
def _beale(c, x, y):
    y2 = y * y
    y3 = y2 * y
    t1 = 1.5 - x + x * y
    t2 = 2.25 - x + x * y2
    t3 = 2.625 - x + x * y3
    f = t1 * t1 + t2 * t2 + t3 * t3
    gx = 2.0 * (t1 * (y - 1.0) + t2 * (y2 - 1.0) + t3 * (y3 - 1.0))
    gy = 2.0 * x * (t1 + 2.0 * y * t2 + 3.0 * y2 * t3)
    return f, gx, gy


@inline
def _himmelblau(c, x, y):
    a = x * x + y - 11.0
    b = x + y * y - 7.0
    return a * a + b * b, 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b


@inline
def _saddle(c, x, y):
    return x * x - y * y, 2.0 * x, -2.0 * y


@inline
def _rastrigin(c, x, y):
    """c = (A,)."""
    A = c[0]
    f = 2.0 * A + x * x - A * math.cos(TWO_PI * x) + y * y - A * math.cos(TWO_PI * y)
    gx = 2.0 * x + TWO_PI * A * math.sin(TWO_PI * x)
    gy = 2.0 * y + TWO_PI * A * math.sin(TWO_PI * y)
    return f, gx, gy


@inline
def _gaussians(c, x, y):
    """c = (bowl, depth, cx, cy, width, depth, cx, cy, width, ...): a bowl
    ``bowl * (x^2 + y^2)`` minus Gaussian wells."""
    bowl = c[0]
    f = bowl * (x * x + y * y)
    gx = 2.0 * bowl * x
    gy = 2.0 * bowl * y
    for k in range(1, c.size, 4):
        depth, dx, dy, width = c[k], x - c[k + 1], y - c[k + 2], c[k + 3]
        inv_var = 1.0 / (width * width)
        e = depth * math.exp(-0.5 * (dx * dx + dy * dy) * inv_var)
        f -= e
        gx += e * dx * inv_var
        gy += e * dy * inv_var
    return f, gx, gy


@inline
def _ravine(c, x, y):
    """c = (wall, floor, amplitude, frequency)."""
    wall, floor, amp, freq = c[0], c[1], c[2], c[3]
    r = y - amp * math.sin(freq * x)
    f = 0.5 * (floor * x * x + wall * r * r)
    gx = floor * x - wall * r * amp * freq * math.cos(freq * x)
    return f, gx, wall * r


@jit
def evaluate(kind, c, x, y):
    """``(f, df/dx, df/dy)`` of surface ``kind`` with coefficients ``c`` at (x, y)."""
    if kind == QUADRATIC:
        return _quadratic(c, x, y)
    if kind == ROSENBROCK:
        return _rosenbrock(c, x, y)
    if kind == BEALE:
        return _beale(c, x, y)
    if kind == HIMMELBLAU:
        return _himmelblau(c, x, y)
    if kind == SADDLE:
        return _saddle(c, x, y)
    if kind == RASTRIGIN:
        return _rastrigin(c, x, y)
    if kind == GAUSSIANS:
        return _gaussians(c, x, y)
    if kind == RAVINE:
        return _ravine(c, x, y)
    return np.nan, np.nan, np.nan


@jit
def evaluate_many(kind, c, xs, ys, f, gx, gy):
    """:func:`evaluate` at every point of the flat arrays ``xs``, ``ys``."""
    for i in range(xs.size):
        f[i], gx[i], gy[i] = evaluate(kind, c, xs[i], ys[i])
