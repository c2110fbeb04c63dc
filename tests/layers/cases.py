"""Shared helpers for the layer tests: comparison with torch, finite
differences, and running a function under different thread counts."""

from __future__ import annotations

import os

import numba
import numpy as np
import pytest
from hypothesis import strategies as st

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
needs_jit = pytest.mark.skipif(NOJIT, reason="checks compiled code; the fallback has none")

# DESIGN.md: float64 forward and backward equal torch autograd to <= 1e-9.
# The error is max |ours - torch| relative to the size of torch's values
# (at least 1), so that an element near zero is not judged on its own.  dx
# is a difference of terms of size |gamma dy| / sigma that can cancel to
# nothing (exactly, when a sample has one element); its scale is theirs.
# float32: both sides round every stored value to 24 bits (6e-8), torch
# accumulates float32 rows in float32 (layer_norm), and dx sums cancelling
# terms; 1e-5 of the scale is well above that and far below any real error.
TOLERANCE = {np.float64: 1e-9, np.float32: 1e-5}

dtypes = st.sampled_from([np.float64, np.float32])
eps_values = st.floats(-8.0, -1.0).map(lambda e: float(10.0 ** e))


def data(rng: np.random.Generator, shape, dtype, offset: float = 0.0, scale: float = 1.0):
    return np.asarray(offset + scale * rng.standard_normal(shape), dtype=dtype)


def relative_error(ours, theirs, scale: float | None = None) -> float:
    """max |ours - theirs| / scale; by default the scale is the size of
    torch's values, at least 1."""
    theirs = np.asarray(theirs, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    if theirs.size == 0:
        return 0.0
    if scale is None:
        scale = float(np.max(np.abs(theirs)))
    return float(np.max(np.abs(ours - theirs))) / max(1.0, scale)


def assert_close(name, ours, theirs, dtype, scale=None, condition=1.0):
    """Within TOLERANCE; in float32 also times the problem's condition number.

    Rounding x to float32 moves it by up to 6e-8 |x|, which moves x_hat =
    (x - mean) / sigma by 6e-8 |x| / sigma: when |mean| >> sigma (or a
    single-element sample, whose sigma is just sqrt(eps)) no float32
    implementation can do better, torch's included.  ``condition`` is
    max |x| / sigma of the problem; in float64 the plain 1e-9 applies.
    """
    tolerance = TOLERANCE[dtype] * (max(1.0, condition) if dtype == np.float32 else 1.0)
    err = relative_error(ours, theirs, scale)
    assert err <= tolerance, \
        f"{name}: relative error {err:.3g} against torch (tolerance {tolerance:.3g})"


def numerical_gradient(f, a: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centred differences of the scalar f() with respect to a (changed in place and restored)."""
    grad = np.empty_like(a)
    flat, gflat = a.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f()
        flat[i] = keep - h
        down = f()
        flat[i] = keep
        gflat[i] = (up - down) / (2 * h)
    return grad


def with_threads(threads: int, fn):
    numba.set_num_threads(threads)
    try:
        return fn()
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


needs_two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                       reason="Numba has a single thread here")


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def without_jit(module: str, function: str, tmp_path, *, stub_torch: bool = True):
    """``tests.layers.<module>.<function>()`` run under NUMBA_DISABLE_JIT=1,
    its result returned through a pickle (``stub_torch``: see below; off for a
    module that imports scipy.stats, which probes torch's array API)."""
    import pickle
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "fallback.pickle"
    # The test modules import torch at the top, which costs seconds per
    # subprocess (most of these tests' time on a loaded machine); the fallback
    # cases compute with descentlab alone, so torch is replaced by stubs: any
    # attribute is another stub (module-level annotations import fine), and a
    # stub cannot be called, so a case that used torch would fail loudly.
    code = textwrap.dedent(f"""
        import pickle, sys, types
        class _NoTorch(types.ModuleType):
            def __getattr__(self, name):
                if name.startswith("__"):
                    raise AttributeError(name)
                return _NoTorch(self.__name__ + "." + name)
        if {stub_torch!r}:
            for name in ("torch", "torch.nn", "torch.nn.functional"):
                sys.modules[name] = _NoTorch(name)
            sys.modules["torch"].nn = sys.modules["torch.nn"]
            sys.modules["torch.nn"].functional = sys.modules["torch.nn.functional"]
        sys.path.insert(0, {str(root)!r})
        from tests.layers.{module} import {function}
        with open({str(out)!r}, "wb") as f:
            pickle.dump({function}(), f)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr
    with open(out, "rb") as f:
        return pickle.load(f)
