"""Numba conventions shared by every descentlab kernel.

* ``cache=True``: compiled code is kept on disk (Numba honours NUMBA_CACHE_DIR),
  so only the first run on a machine pays for compilation.
* ``fastmath=False``: strict IEEE arithmetic; LLVM may not reassociate or fuse
  operations, so a kernel gives the same bits as its pure-Python fallback.
* ``error_model="numpy"``: a division by zero gives inf/nan as in NumPy and
  torch instead of raising; the Python error model would also put a branch in
  every loop and stop LLVM from vectorising it.
* Nothing is compiled at import: dispatchers are lazy.
* Numba keys a cache entry on the decorated function's own source file, so
  editing a helper that a kernel inlines (``optim/_elementwise.py``) or calls
  (the kernels a trajectory loop runs) would leave the kernel stale on disk.
  Every cache entry here is therefore also keyed on a hash of all the
  package's compiled code: an edit to any of it recompiles everything once.

``NUMBA_DISABLE_JIT=1`` turns every kernel back into the plain Python function
it was written as; the test suite runs that way too.
"""

from __future__ import annotations

import functools
import hashlib
import os
import types
from pathlib import Path

__all__ = ["OPTIONS", "PARALLEL_MIN_SIZE", "DISABLED", "jit", "inline", "kernel", "prange",
           "source_hash"]


def _disabled() -> bool:
    # read as numba.core.config reads it: an int, 0 when unset or not a number
    try:
        return int(os.environ.get("NUMBA_DISABLE_JIT", "0") or 0) != 0
    except ValueError:
        return False


#: NUMBA_DISABLE_JIT was set: every kernel is its plain Python function.  Numba
#: is then not imported at all (it would only hand the functions back), which
#: saves a process 0.4 s of CPU: the graded kernels run this way (grading.jail).
DISABLED = _disabled()

if DISABLED:
    prange = range  # what numba.prange is under NUMBA_DISABLE_JIT
else:
    from numba import njit, prange
    from numba.core.caching import FunctionCache

    class _KeyedCache(FunctionCache):
        """Numba's on-disk cache, with every entry also keyed on :func:`source_hash`."""

        def _index_key(self, sig, codegen):
            return (*super()._index_key(sig, codegen), source_hash())


OPTIONS = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)

#: Below this many elements the thread pool costs more than it saves (measured:
#: an Adam step on 30k float32 takes 5 us serial, 6.5 us with two threads).
PARALLEL_MIN_SIZE = 1 << 16


#: The files holding compiled code, relative to the package.
COMPILED = ("_jit.py", "optim", "layers", "surfaces", "bench")


@functools.cache
def source_hash() -> str:
    """A digest of every source file of the package's compiled code."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for entry in COMPILED:
        for path in sorted((root / entry).rglob("*.py")) if (root / entry).is_dir() else [root / entry]:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _compile(fn, **options):
    if DISABLED:
        return fn
    dispatcher = njit(**options, **OPTIONS)(fn)
    dispatcher._cache = _KeyedCache(dispatcher.py_func)
    return dispatcher


def jit(fn):
    """Compile ``fn`` with the project's options (scalar or serial code)."""
    return _compile(fn)


def inline(fn):
    """A small scalar helper that Numba inlines into the loops that call it."""
    return _compile(fn, inline="always")


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
        self.serial = _compile(fn)
        self.parallel = _compile(_renamed(fn, "_parallel"), parallel=True)

    def __call__(self, p, *args):
        impl = self.parallel if p.size >= PARALLEL_MIN_SIZE else self.serial
        return impl(p, *args)

    def __repr__(self) -> str:
        return f"<descentlab kernel {self.py_func.__module__}.{self.py_func.__qualname__}>"


def kernel(fn: types.FunctionType) -> Kernel:
    """Decorator: see :class:`Kernel`."""
    return Kernel(fn)
