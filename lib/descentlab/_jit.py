"""Numba conventions shared by every descentlab kernel.

* ``cache=True``: compiled code is kept on disk (Numba honours NUMBA_CACHE_DIR),
  so only the first run on a machine pays for compilation.
* ``fastmath=False``: strict IEEE arithmetic; LLVM may not reassociate or fuse
  operations, so a kernel gives the same bits as its pure-Python fallback.
* ``error_model="numpy"``: a division by zero gives inf/nan as in NumPy and
  torch instead of raising; the Python error model would also put a branch in
  every loop and stop LLVM from vectorising it.
* Nothing is compiled at import: dispatchers are lazy.

``NUMBA_DISABLE_JIT=1`` turns every kernel back into the plain Python function
it was written as; the test suite runs that way too.
"""

from __future__ import annotations

import functools
import types

from numba import njit, prange

__all__ = ["OPTIONS", "PARALLEL_MIN_SIZE", "jit", "inline", "kernel", "prange"]

OPTIONS = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)

#: Below this many elements the thread pool costs more than it saves (measured:
#: an Adam step on 30k float32 takes 5 us serial, 6.5 us with two threads).
PARALLEL_MIN_SIZE = 1 << 16


def jit(fn):
    """Compile ``fn`` with the project's options (scalar or serial code)."""
    return njit(**OPTIONS)(fn)


def inline(fn):
    """A small scalar helper that Numba inlines into the loops that call it."""
    return njit(inline="always", **OPTIONS)(fn)


def _renamed(fn: types.FunctionType, suffix: str) -> types.FunctionType:
    # Numba names cache files after __qualname__; the parallel twin needs its
    # own name or the two compilations would overwrite each other's index.
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                              fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + suffix
    twin.__module__ = fn.__module__
    twin.__doc__ = fn.__doc__
    return twin


class Kernel:
    """An element-wise kernel compiled twice from one source.

    ``serial`` is for small arrays and for other compiled code (the compiled
    trajectories call it); ``parallel`` spreads the ``prange`` loop over
    Numba's threads.  Calling the kernel picks one by the size of its first
    argument.  Both run the same element-wise arithmetic in the same order,
    so the choice never changes a result.
    """

    def __init__(self, fn: types.FunctionType):
        functools.update_wrapper(self, fn)
        self.py_func = fn
        self.serial = njit(**OPTIONS)(fn)
        self.parallel = njit(parallel=True, **OPTIONS)(_renamed(fn, "_parallel"))

    def __call__(self, p, *args):
        impl = self.parallel if p.size >= PARALLEL_MIN_SIZE else self.serial
        return impl(p, *args)

    def __repr__(self) -> str:
        return f"<descentlab kernel {self.py_func.__module__}.{self.py_func.__qualname__}>"


def kernel(fn: types.FunctionType) -> Kernel:
    """Decorator: see :class:`Kernel`."""
    return Kernel(fn)
