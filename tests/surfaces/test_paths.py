"""Compiled trajectories: bit for bit what stepping the optimizer classes gives,
and the closed-form rates of gradient descent and heavy ball on a quadratic."""

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import descentlab.optim as dlo
import descentlab.surfaces as S

from ..optim.cases import ALL_SPACES

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
needs_jit = pytest.mark.skipif(NOJIT, reason="checks compiled code; the fallback has none")
STEPS = 12 if NOJIT else 80
LIB = Path(S.__file__).resolve().parents[2]


def step_the_class(name, surface, x0, steps, hyper, noise=0.0, seed=0):
    """The reference: the optimizer class stepped in Python on the surface's gradient."""
    lr = hyper.get("lr", None)
    schedule = isinstance(lr, np.ndarray)
    p = np.array(x0, dtype=np.float64)
    opt = getattr(dlo, name)([p], **({**hyper, "lr": float(lr[0])} if schedule else hyper))
    z = S.gradient_noise(steps, noise, seed) if noise else None
    path = np.full((steps + 1, 2), np.nan)
    path[0] = p
    with np.errstate(all="ignore"):
        for t in range(steps):
            if not np.all(np.isfinite(p)):
                break
            g = np.array(surface.grad(p[0], p[1]))
            if z is not None:
                g = g + z[t]
            if schedule:
                opt.lr = float(lr[t])
            opt.step([g])
            path[t + 1] = p
    return path


surfaces = st.one_of(st.sampled_from(sorted(S.SURFACES)).map(S.get),
                     st.builds(S.quadratic, kappa=st.floats(1.0, 1e3), angle=st.floats(-3.0, 3.0)))


@st.composite
def runs(draw, name):
    s = draw(surfaces, label="surface")
    hyper = draw(ALL_SPACES[name], label="hyper")
    if draw(st.booleans(), label="schedule"):
        hyper["lr"] = hyper["lr"] * np.exp(-np.arange(STEPS) * draw(st.floats(0.0, 0.1)))
    x0 = draw(st.one_of(st.just(s.start), st.tuples(st.floats(*s.xlim), st.floats(*s.ylim))))
    noise = draw(st.sampled_from([0.0, 0.0, 0.1, 3.0]), label="noise")
    return s, hyper, x0, noise, draw(st.integers(0, 2**32 - 1), label="seed")


@pytest.mark.parametrize("name", S.OPTIMIZERS)
@given(data=st.data())
def test_trajectory_is_stepping_the_class_bit_for_bit(name, data):
    s, hyper, x0, noise, seed = data.draw(runs(name))
    path = S.trajectory(name, s, x0, STEPS, noise=noise, seed=seed, **hyper)
    expected = step_the_class(name, s, x0, STEPS, hyper, noise, seed)
    assert path.shape == (STEPS + 1, 2) and path.dtype == np.float64
    np.testing.assert_array_equal(path, expected)


def test_every_optimizer_has_a_compiled_loop():
    assert set(S.OPTIMIZERS) == set(dlo.TORCH_OPTIMIZERS) | set(dlo.EXTRAS)


def test_defaults_are_the_classes_defaults():
    s = S.rosenbrock()
    for name in S.OPTIMIZERS:
        np.testing.assert_array_equal(S.trajectory(name, s, (0.3, 0.2), 10),
                                      step_the_class(name, s, (0.3, 0.2), 10, {}))
    np.testing.assert_array_equal(S.trajectory("SGD", "rosenbrock", steps=5, lr=1e-3),
                                  S.trajectory("SGD", s, s.start, 5, lr=1e-3))


@given(kappa=st.floats(1.5, 200.0), angle=st.floats(-3.0, 3.0), lam_max=st.floats(0.1, 10.0))
def test_gradient_descent_at_the_optimal_step_contracts_by_its_closed_form(kappa, angle, lam_max):
    """At alpha* both eigen-components shrink by exactly (kappa-1)/(kappa+1) per step."""
    q = S.quadratic(kappa=kappa, angle=angle, lam_max=lam_max)
    steps = 40
    path = S.trajectory("SGD", q, q.start, steps, lr=2.0 / (q.lam_min + q.lam_max))
    norms = np.hypot(path[:, 0], path[:, 1])
    rate = (kappa - 1) / (kappa + 1)
    np.testing.assert_allclose(norms, norms[0] * rate ** np.arange(steps + 1), rtol=1e-9,
                               atol=1e-300)
    # any other step size is slower in the worst case, which is a start along
    # one of the eigenvectors (u and v axes)
    eigenvectors = [(math.cos(angle), math.sin(angle)), (-math.sin(angle), math.cos(angle))]

    def worst(lr):
        return max(np.hypot(*S.trajectory("SGD", q, v, steps, lr=lr)[-1]) for v in eigenvectors)

    assert worst(q.optimal_lr) == pytest.approx(rate ** steps, rel=1e-9)
    assert worst(0.95 * q.optimal_lr) > worst(q.optimal_lr) < worst(1.05 * q.optimal_lr)


@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0])
def test_heavy_ball_reaches_its_accelerated_rate(kappa):
    q = S.quadratic(kappa=kappa, angle=0.3)
    steps = 400
    path = S.trajectory("SGD", q, (1.0, 1.0), steps, **q.heavy_ball)
    measured = np.hypot(*path[-1]) ** (1 / steps)
    rho = q.heavy_ball_rate
    # a double eigenvalue of the iteration: error ~ t rho^t, so the root is rho * O(t^(1/t))
    assert rho * 0.99 < measured < rho * steps ** (2 / steps)
    assert measured < q.gd_rate


def test_divergence_gives_nan_rows_and_no_warnings():
    q = S.quadratic(kappa=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = S.trajectory("SGD", q, q.start, 3000, lr=2.5 / q.lam_max)
        f = S.losses(q, path)
    first = np.argmax(~np.all(np.isfinite(path), axis=1))
    assert 0 < first < 3000
    assert np.all(np.isfinite(path[:first]))
    assert np.all(np.isnan(path[first + 1:]))
    # the steep direction grew by |1 - 2.5| = 1.5 per step until it overflowed
    assert abs(path[first - 1, 1]) > 1e300
    assert np.isnan(f[first + 1:]).all()


def test_losses_evaluate_each_row():
    s = S.himmelblau()
    path = S.trajectory("Adam", s, s.start, 50, lr=0.1)
    np.testing.assert_array_equal(S.losses(s, path), [s.value(*p) for p in path])
    assert S.losses("himmelblau", path)[-1] < S.losses(s, path)[0]


def test_noise_is_gradient_noise_and_seeded():
    s = S.quadratic()
    a = S.trajectory("SGD", s, (1.0, 1.0), 20, lr=0.1, noise=0.5, seed=7)
    b = S.trajectory("SGD", s, (1.0, 1.0), 20, lr=0.1, noise=0.5, seed=7)
    c = S.trajectory("SGD", s, (1.0, 1.0), 20, lr=0.1, noise=0.5, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    z = S.gradient_noise(20, 0.5, seed=7)
    assert z.shape == (20, 2)
    np.testing.assert_array_equal(z, 0.5 * np.random.default_rng(7).standard_normal((20, 2)))


def test_statistics_of_the_noise():
    # 2 * 20000 draws: the sample std is within 3% of sigma with overwhelming
    # probability (its standard error is sigma / sqrt(2 n) = 0.5%)
    z = S.gradient_noise(20000, 2.0, seed=1)
    assert abs(z.std() - 2.0) < 0.06 and abs(z.mean()) < 0.06


# -- bad input -------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs, error, match", [
    (("Adamm", "rosenbrock"), {}, ValueError, "'Adamm'"),
    ((dlo.Adam, "rosenbrock"), {}, TypeError, "name"),
    (("Adam", "rosenbrok"), {}, ValueError, "rosenbrok"),
    (("Adam", "rosenbrock", (1.0,)), {}, ValueError, "x0"),
    (("Adam", "rosenbrock", (1.0, float("inf"))), {}, ValueError, "x0"),
    (("Adam", "rosenbrock", "ab"), {}, TypeError, "x0"),
    (("Adam", "rosenbrock", None, -1), {}, ValueError, "steps"),
    (("Adam", "rosenbrock", None, 2.5), {}, TypeError, "steps"),
    (("Adam", "rosenbrock"), dict(lr=-0.1), ValueError, r"Adam: lr.*-0\.1"),
    (("Adam", "rosenbrock"), dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
    (("SGD", "rosenbrock"), dict(nesterov=True), ValueError, "nesterov"),
    (("SGD", "rosenbrock"), dict(betas=(0.9, 0.99)), TypeError, "betas"),
    (("LocalGains", "rosenbrock"), dict(gain_min=2.0), ValueError, "gain_min"),
    (("SGD", "rosenbrock", None, 3), dict(lr=[0.1, 0.1]), ValueError, r"lr.*\(3,\)"),
    (("SGD", "rosenbrock", None, 3), dict(lr=[0.1, -0.1, 0.1]), ValueError, "lr"),
    (("SGD", "rosenbrock", None, 3), dict(lr=[0.1, float("nan"), 0.1]), ValueError, "nan"),
    (("SGD", "rosenbrock", None, 3), dict(lr=["a", "b", "c"]), TypeError, "lr"),
    (("SGD", "rosenbrock"), dict(noise=-1.0), ValueError, "noise"),
    (("SGD", "rosenbrock"), dict(seed=-1), ValueError, "seed"),
])
def test_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        S.trajectory(*args, **kwargs)


def test_zero_steps_and_losses_of_bad_paths():
    assert S.trajectory("Adam", "beale", (1.0, 2.0), 0).tolist() == [[1.0, 2.0]]
    with pytest.raises(ValueError, match="path"):
        S.losses("beale", np.zeros((3, 3)))


# -- the on-disk cache -----------------------------------------------------------

def python(code, **env):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=600, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


CACHE_PROBE = """
    import json
    import descentlab.surfaces as S
    from descentlab.surfaces import paths
    S.trajectory("Adadelta", "rosenbrock", None, 10)
    s = paths._adadelta_path.stats
    print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))
"""


@needs_jit
def test_a_second_process_hits_the_cache_and_a_kernel_edit_invalidates_it(tmp_path):
    """Numba alone keys a cache entry on the loop's own source file; ours is
    also keyed on the kernels' (on a copy of the package, to edit one)."""
    lib = tmp_path / "lib"
    shutil.copytree(LIB / "descentlab", lib / "descentlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(lib))
    assert python(CACHE_PROBE, **env) == [0, 1]
    assert python(CACHE_PROBE, **env) == [1, 0]
    kernel = lib / "descentlab" / "optim" / "adadelta.py"
    kernel.write_text(kernel.read_text() + "\n# an edit\n")
    assert python(CACHE_PROBE, **env) == [0, 1]


@needs_jit
def test_importing_compiles_nothing():
    assert python("""
        import json
        import descentlab.surfaces, descentlab.widgets
        from numba.core.dispatcher import Dispatcher
        from descentlab.surfaces import paths, _formulas
        functions = [f for f in (*vars(paths).values(), *vars(_formulas).values())
                     if isinstance(f, Dispatcher)]
        assert len(functions) >= 12
        compiled = [f for f in functions if f.signatures]
        print(json.dumps([str(f) for f in compiled]))
    """) == []
