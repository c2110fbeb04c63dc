"""The Numba conventions of DESIGN.md: lazy compilation, on-disk cache, one
answer whatever the thread count, and a Python fallback with the same bits."""

import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import descentlab._jit as jit
import descentlab.optim as dlo

JIT_OFF = os.environ.get("NUMBA_DISABLE_JIT") == "1"
needs_jit = pytest.mark.skipif(JIT_OFF, reason="checks compiled code; the fallback has none")

# One configuration per optimizer that exercises its optional branches.
CONFIGS = {
    "SGD": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "Adagrad": dict(lr=0.1, lr_decay=1e-3, weight_decay=1e-2),
    "RMSprop": dict(lr=1e-2, momentum=0.5, centered=True, weight_decay=1e-2),
    "Adadelta": dict(lr=1.0, weight_decay=1e-2),
    "Adam": dict(lr=1e-2, amsgrad=True, weight_decay=1e-2),
    "AdamW": dict(lr=1e-2),
    "Adamax": dict(lr=1e-2, weight_decay=1e-2),
    "NAdam": dict(lr=1e-2, weight_decay=1e-2, decoupled_weight_decay=True),
    "RAdam": dict(lr=1e-2, weight_decay=1e-2),
    "ClassicMomentum": dict(lr=1e-2, momentum=0.9),
    "LocalGains": dict(lr=1e-2),
}
assert set(CONFIGS) == set(dlo.TORCH_OPTIMIZERS + dlo.EXTRAS)


def run(name, size, dtype, steps=12, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(size).astype(dtype)
    opt = getattr(dlo, name)([p], **CONFIGS[name])
    for _ in range(steps):
        opt.step([(0.3 * p + rng.standard_normal(size)).astype(dtype)])
    return p


@needs_jit  # as plain Python both are loops in one order: the compiled run is the check
@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_serial_and_parallel_kernels_agree_bit_for_bit(name, dtype, monkeypatch):
    size = jit.PARALLEL_MIN_SIZE + 3
    parallel = run(name, size, dtype)
    monkeypatch.setattr(jit, "PARALLEL_MIN_SIZE", 10 * size)
    serial = run(name, size, dtype)
    assert np.array_equal(parallel, serial)


@needs_jit
@pytest.mark.parametrize("name", ["Adam", "RMSprop", "SGD"])
def test_result_does_not_depend_on_thread_count(name):
    size = 4 * jit.PARALLEL_MIN_SIZE + 1
    results = []
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(threads)
        try:
            results.append(run(name, size, np.float32))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert all(np.array_equal(results[0], r) for r in results[1:])


def python(code: str, **env) -> str:
    full_env = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_descentlab_loads_nothing_heavy():
    loaded = json.loads(python("""
        import json, sys
        import descentlab
        print(json.dumps(sorted(m for m in ("numba", "torch", "matplotlib", "numpy")
                                if m in sys.modules)))
    """))
    assert loaded == []


@needs_jit
def test_importing_optim_compiles_nothing():
    counts = json.loads(python("""
        import json
        from descentlab import optim
        from descentlab._jit import Kernel
        import descentlab.optim as o, importlib, pkgutil
        kernels = [k for m in pkgutil.iter_modules(o.__path__)
                   for k in vars(importlib.import_module("descentlab.optim." + m.name)).values()
                   if isinstance(k, Kernel)]
        print(json.dumps([len(k.serial.signatures) + len(k.parallel.signatures) for k in kernels]))
    """))
    assert len(counts) == len(CONFIGS) - 1  # AdamW reuses Adam's kernel
    assert counts == [0] * len(counts)


@needs_jit
def test_kernels_are_cached_where_numba_cache_dir_points(tmp_path):
    code = """
        import json, numpy as np
        from descentlab.optim import Adam
        from descentlab.optim.adam import adam_kernel
        Adam([np.zeros(3)]).step([np.ones(3)])
        s = adam_kernel.serial.stats
        print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))
    """
    cold = json.loads(python(code, NUMBA_CACHE_DIR=str(tmp_path)))
    written = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert any(name.startswith("adam.adam_kernel") for name in written), written
    warm = json.loads(python(code, NUMBA_CACHE_DIR=str(tmp_path)))
    assert cold == [0, 1] and warm == [1, 0]


@needs_jit
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_python_fallback_gives_the_same_bits(tmp_path, dtype):
    """NUMBA_DISABLE_JIT=1 runs the kernels as plain Python: same answers, same bits."""
    code = f"""
        import numpy as np, sys
        sys.path.insert(0, {os.path.dirname(os.path.dirname(__file__))!r})
        from tests.test_jit import CONFIGS, run
        np.savez({str(tmp_path / 'fallback.npz')!r},
                 **{{name: run(name, 40, np.{dtype}, steps=60) for name in CONFIGS}})
    """
    python(code, NUMBA_DISABLE_JIT="1")
    fallback = np.load(tmp_path / "fallback.npz")
    for name in CONFIGS:
        compiled = run(name, 40, getattr(np, dtype), steps=60)
        assert np.array_equal(compiled, fallback[name]), name


@needs_jit
def test_editing_an_inlined_helper_invalidates_the_kernels_that_inline_it(tmp_path):
    """Numba alone keys Adam's cache entry on adam.py only; an edit to the lerp it
    inlines (optim/_elementwise.py) must not leave a stale kernel on disk."""
    import shutil
    from pathlib import Path

    import descentlab

    lib = tmp_path / "lib"
    shutil.copytree(Path(descentlab.__file__).parent, lib / "descentlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = """
        import json, numpy as np
        from descentlab.optim import Adam
        from descentlab.optim.adam import adam_kernel
        Adam([np.zeros(3)]).step([np.ones(3)])
        s = adam_kernel.serial.stats
        print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))
    """
    env = dict(NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(lib))
    assert json.loads(python(code, **env)) == [0, 1]
    assert json.loads(python(code, **env)) == [1, 0]
    helper = lib / "descentlab" / "optim" / "_elementwise.py"
    helper.write_text(helper.read_text() + "\n# an edit\n")
    assert json.loads(python(code, **env)) == [0, 1]


@pytest.mark.parametrize("value", ["1", "0", "", "2", " 1", "-1", "yes", "1.0", "true"])
def test_the_jit_is_off_exactly_when_numba_would_turn_it_off_and_numba_is_then_not_imported(
        value):
    """descentlab reads NUMBA_DISABLE_JIT itself so that, when the JIT is off, it need not
    import Numba (the graded kernels run this way): it must read it as Numba does."""
    code = """
        import json, sys
        import descentlab._jit as jit, descentlab.optim, descentlab.layers, descentlab.surfaces
        imported = "numba" in sys.modules
        import numba
        print(json.dumps([jit.DISABLED, bool(numba.config.DISABLE_JIT), imported]))
    """
    ours, numbas, imported = json.loads(python(code, NUMBA_DISABLE_JIT=value))
    assert ours == numbas
    assert imported == (not ours)
