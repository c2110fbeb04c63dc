"""The test functions: gradients against torch autograd and finite differences,
minimisers and saddles checked by their derivatives, not by their coordinates."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import descentlab.surfaces as S

# Each formula written again, independently, in torch.
TORCH = {
    "quadratic": lambda x, y, p: _torch_quadratic(x, y, **p),
    "rosenbrock": lambda x, y, p: (p["a"] - x) ** 2 + p["b"] * (y - x ** 2) ** 2,
    "beale": lambda x, y, p: ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2
                              + (2.625 - x + x * y ** 3) ** 2),
    "himmelblau": lambda x, y, p: (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2,
    "saddle": lambda x, y, p: x ** 2 - y ** 2,
    "rastrigin": lambda x, y, p: (2 * p["A"] + x ** 2 - p["A"] * torch.cos(2 * math.pi * x)
                                  + y ** 2 - p["A"] * torch.cos(2 * math.pi * y)),
    "gaussians": lambda x, y, p: p["bowl"] * (x ** 2 + y ** 2) - sum(
        d * torch.exp(-((x - a) ** 2 + (y - b) ** 2) / (2 * s ** 2)) for d, a, b, s in p["wells"]),
    "ravine": lambda x, y, p: 0.5 * (p["floor"] * x ** 2 + p["wall"] * (
        y - p["amplitude"] * torch.sin(p["frequency"] * x)) ** 2),
}
assert set(TORCH) == set(S.SURFACES)


def _torch_quadratic(x, y, kappa, lam_max, angle):
    hessian = torch.tensor([[lam_max / kappa, 0.0], [0.0, lam_max]], dtype=torch.float64)
    rot = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]],
                       dtype=torch.float64)
    A = rot @ hessian @ rot.T
    return 0.5 * (A[0, 0] * x * x + 2 * A[0, 1] * x * y + A[1, 1] * y * y)


surfaces = st.one_of(
    st.sampled_from(sorted(S.SURFACES)).map(S.get),
    st.builds(S.quadratic, kappa=st.floats(1.0, 1e3), lam_max=st.floats(0.1, 10.0),
              angle=st.floats(-math.pi, math.pi)),
    st.builds(S.rosenbrock, a=st.floats(-2.0, 2.0), b=st.floats(1.0, 200.0)),
    st.builds(S.ravine, wall=st.floats(1.0, 50.0), floor=st.floats(0.01, 1.0),
              amplitude=st.floats(-2.0, 2.0), frequency=st.floats(0.2, 3.0)),
)


@st.composite
def surface_and_point(draw):
    s = draw(surfaces)
    u = draw(st.floats(0.0, 1.0))
    v = draw(st.floats(0.0, 1.0))
    return s, (s.xlim[0] + u * (s.xlim[1] - s.xlim[0]), s.ylim[0] + v * (s.ylim[1] - s.ylim[0]))


def torch_value_and_grad(s, x, y):
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    f = TORCH[s.name](tx, ty, s.params)
    f.backward()
    return f.item(), tx.grad.item(), ty.grad.item()


@given(surface_and_point())
def test_value_and_gradient_equal_torch_autograd(case):
    s, (x, y) = case
    f, gx, gy = s.value_and_grad(x, y)
    tf, tgx, tgy = torch_value_and_grad(s, x, y)
    # the two sides add the same terms in different orders: allow rounding
    # relative to the size of the terms, which |f| + |x| + |y| + 1 bounds
    # for these polynomials and bounded transcendental parts
    scale = 1.0 + abs(tf) + abs(tgx) + abs(tgy)
    assert f == pytest.approx(tf, rel=1e-12, abs=1e-12 * scale)
    assert gx == pytest.approx(tgx, rel=1e-11, abs=1e-11 * scale)
    assert gy == pytest.approx(tgy, rel=1e-11, abs=1e-11 * scale)


@given(surface_and_point())
def test_gradient_equals_centred_finite_differences(case):
    s, (x, y) = case
    hx, hy = 1e-6 * (1 + abs(x)), 1e-6 * (1 + abs(y))
    fd = ((s.value(x + hx, y) - s.value(x - hx, y)) / (2 * hx),
          (s.value(x, y + hy) - s.value(x, y - hy)) / (2 * hy))
    g = s.grad(x, y)
    # truncation O(h^2 f''') plus rounding O(eps |f| / h)
    tol = 1e-5 * (1 + abs(g[0]) + abs(g[1])) + 1e-8 * (1 + abs(s.value(x, y)))
    assert abs(g[0] - fd[0]) <= tol and abs(g[1] - fd[1]) <= tol, (g, fd)


@given(surfaces, st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_arrays_give_pointwise_results(s, rows, cols, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(*s.xlim, (rows, cols))
    Y = rng.uniform(*s.ylim, (rows, cols))
    F, GX, GY = s.value_and_grad(X, Y)
    assert F.shape == GX.shape == GY.shape == (rows, cols)
    for i in range(rows):
        for j in range(cols):
            assert (F[i, j], GX[i, j], GY[i, j]) == s.value_and_grad(X[i, j], Y[i, j])
    # broadcasting: a column of x against a row of y
    assert s.value(X[:, :1], Y[:1, :]).shape == (rows, cols)


def fd_hessian(s, p, h=1e-4):
    """Second differences of f itself (not of our gradient)."""
    x, y = p
    f = s.value
    hx, hy = h * (1 + abs(x)), h * (1 + abs(y))
    fxx = (f(x + hx, y) - 2 * f(x, y) + f(x - hx, y)) / hx ** 2
    fyy = (f(x, y + hy) - 2 * f(x, y) + f(x, y - hy)) / hy ** 2
    fxy = (f(x + hx, y + hy) - f(x + hx, y - hy) - f(x - hx, y + hy)
           + f(x - hx, y - hy)) / (4 * hx * hy)
    return np.array([[fxx, fxy], [fxy, fyy]])


ALL = [S.get(name) for name in S.SURFACES] + [S.quadratic(kappa=100.0, angle=0.7),
                                             S.rosenbrock(a=-1.5, b=30.0), S.rastrigin(A=0.0)]


def critical_points(kind):
    return [pytest.param(s, p, id=f"{s.name}{s.params}-{p}")
            for s in ALL for p in getattr(s, kind)]


@pytest.mark.parametrize("s, p", critical_points("minimisers"))
def test_minimisers_are_strict_local_minima(s, p):
    gx, gy = s.grad(*p)
    H = fd_hessian(s, p)
    assert math.hypot(gx, gy) <= 1e-9 * (1 + np.abs(H).max() * (1 + math.hypot(*p)))
    assert np.all(np.linalg.eigvalsh(H) > 0), H
    f0 = s.value(*p)
    for r in (1e-4, 1e-2):
        angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        ring = s.value(p[0] + r * np.cos(angles), p[1] + r * np.sin(angles))
        assert np.all(ring >= f0)


@pytest.mark.parametrize("s, p", critical_points("saddles"))
def test_saddles_are_saddles(s, p):
    assert math.hypot(*s.grad(*p)) <= 1e-12
    eig = np.linalg.eigvalsh(fd_hessian(s, p))
    assert eig[0] < 0 < eig[1], eig


@pytest.mark.parametrize("s", ALL, ids=lambda s: f"{s.name}{s.params}")
def test_min_value_is_the_lowest_value_in_the_window(s):
    X, Y, Z = s.grid(301)
    if s.min_value is None:
        assert not s.minimisers and Z.min() < s.value(*s.start)
        return
    assert s.min_value == s.value(*s.minimisers[0])
    assert Z.min() >= s.min_value
    for p in s.minimisers:
        assert s.xlim[0] < p[0] < s.xlim[1] and s.ylim[0] < p[1] < s.ylim[1]
    assert s.xlim[0] <= s.start[0] <= s.xlim[1] and s.ylim[0] <= s.start[1] <= s.ylim[1]


def test_himmelblau_has_its_four_published_minima():
    published = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
    found = S.himmelblau().minimisers
    assert len(found) == 4
    for p, q in zip(found, published):
        assert math.dist(p, q) < 1e-6


def test_gaussians_global_minimum_is_the_narrow_deep_well():
    s = S.gaussians()
    (narrow, wide) = s.minimisers
    assert s.value(*narrow) < s.value(*wide)
    assert math.dist(narrow, S.GAUSSIAN_WELLS[1][1:3]) < 0.1
    # the narrow well is steeper: larger curvature at its bottom
    steepest_wide = np.linalg.eigvalsh(fd_hessian(s, wide))[1]
    assert np.linalg.eigvalsh(fd_hessian(s, narrow))[0] > 5 * steepest_wide


@pytest.mark.parametrize("wells, count", [
    (((1.0, 0.0, 0.0, 1.0), (1.0, 1e-3, 0.0, 1.0)), 1),  # two wells that merge into one
    (((2.0, 0.0, 0.0, 1.0), (0.01, 1.0, 0.0, 0.3)), 1),  # a dent too faint to hold a minimum
    # a faint dent on the saddle between two wells: Newton finds the saddle
    (((1.0, -1.0, 0.0, 0.5), (1.0, 1.0, 0.0, 0.5), (1e-3, 0.0, 0.0, 0.5)), 2),
])
def test_gaussians_list_each_actual_minimum_once(wells, count):
    s = S.gaussians(wells=wells)
    assert len(s.minimisers) == count
    for p in s.minimisers:
        assert np.all(np.linalg.eigvalsh(fd_hessian(s, p)) > 0)


@given(kappa=st.floats(1.0, 1e4), lam_max=st.floats(1e-2, 1e2), angle=st.floats(-4.0, 4.0))
def test_quadratic_exposes_its_hessian_eigenvalues(kappa, lam_max, angle):
    q = S.quadratic(kappa=kappa, lam_max=lam_max, angle=angle)
    # the Hessian, column by column, from the gradient (exact for a quadratic up to rounding)
    H = np.column_stack([q.grad(1.0, 0.0), q.grad(0.0, 1.0)])
    lo, hi = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert q.lam_min == pytest.approx(lo, rel=1e-9) and q.lam_max == pytest.approx(hi, rel=1e-9)
    assert q.kappa == pytest.approx(hi / lo, rel=1e-8)
    assert q.optimal_lr == pytest.approx(2 / (lo + hi), rel=1e-9)


def test_grid_spans_the_window():
    s = S.rosenbrock()
    X, Y, Z = s.grid(50)
    assert X.shape == Y.shape == Z.shape == (50, 50)
    assert (X.min(), X.max(), Y.min(), Y.max()) == (*s.xlim, *s.ylim)
    np.testing.assert_allclose(Z, (1 - X) ** 2 + 100 * (Y - X ** 2) ** 2, rtol=1e-15)


# -- bad input -------------------------------------------------------------------

@pytest.mark.parametrize("factory, kwargs, error, match", [
    (S.quadratic, dict(kappa=0.5), ValueError, r"kappa.*0\.5"),
    (S.quadratic, dict(kappa=float("inf")), ValueError, "kappa"),
    (S.quadratic, dict(lam_max=-1.0), ValueError, "lam_max"),
    (S.quadratic, dict(angle="x"), TypeError, "angle"),
    (S.rosenbrock, dict(b=0.0), ValueError, "b"),
    (S.rastrigin, dict(A=-1.0), ValueError, "A"),
    (S.gaussians, dict(wells=((1.0, 0.0, 0.0),)), ValueError, "wells"),
    (S.gaussians, dict(wells=((1.0, 0.0, 0.0, -1.0),)), ValueError, "width"),
    (S.gaussians, dict(wells="abc"), TypeError, "wells"),
    (S.ravine, dict(wall=float("nan")), ValueError, "wall"),
])
def test_bad_parameters(factory, kwargs, error, match):
    with pytest.raises(error, match=match):
        factory(**kwargs)


def test_get_by_name_and_bad_names():
    assert S.get("quadratic", kappa=4.0).kappa == 4.0
    s = S.beale()
    assert S.get(s) is s
    with pytest.raises(ValueError, match="'rosenbrok'"):
        S.get("rosenbrok")
    with pytest.raises(TypeError, match="surface"):
        S.get(3)


@pytest.mark.parametrize("x, y, error, match", [
    ("1", 0.0, TypeError, "x"),
    (True, 0.0, TypeError, "x"),
    (0.0, np.array(["a"]), TypeError, "y"),
    (np.zeros(3), np.zeros(4), ValueError, "broadcast"),
    (float("nan"), 0.0, ValueError, "x"),
])
def test_bad_points(x, y, error, match):
    with pytest.raises(error, match=match):
        S.rosenbrock().value(x, y)


@pytest.mark.parametrize("name", sorted(S.SURFACES))
def test_latex_renders_in_matplotlib_mathtext(name):
    """Plot titles use the formula, and mathtext knows less LaTeX than MathJax."""
    from matplotlib.mathtext import MathTextParser

    MathTextParser("path").parse(f"${S.get(name).latex}$")


# -- found by tests/fuzz ----------------------------------------------------------

def _fields(surface, **changes):
    import dataclasses
    return {**{f.name: getattr(surface, f.name) for f in dataclasses.fields(surface)}, **changes}


@pytest.mark.parametrize("changes, error, match", [
    ({"kind": -1}, ValueError, r"kind must be one of the formulas \[0, 1, 2, 3, 4, 5, 6, 7\]"),
    ({"kind": 8}, ValueError, "kind must be one of"),
    ({"kind": 1.0}, TypeError, "kind must be an integer"),
    ({"coef": None}, TypeError, "coef must be a numpy array"),
    ({"coef": np.ones(1)}, ValueError, r"1-D float64 array of 2 values, got float64 of shape \(1,\)"),
    ({"coef": np.ones(2, np.float32)}, ValueError, "float64"),
    ({"coef": np.ones((2, 1))}, ValueError, "1-D"),
    ({"kind": 6, "coef": np.ones(4)}, ValueError, r"1 \+ 4 \* \(number of wells\)"),
])
def test_a_surface_built_by_hand_is_checked_before_any_formula_runs(changes, error, match):
    # Surface is public; its coef used to reach the compiled formulas unchecked
    # (kind=-1 with coef=None was a Numba TypingError, a short coef a read past its end)
    with pytest.raises(error, match=match):
        S.Surface(**_fields(S.rosenbrock(), **changes))


def test_a_surface_built_by_hand_with_valid_fields_works():
    s = S.Surface(**_fields(S.rosenbrock(), name="mine"))
    assert s.value(1.0, 1.0) == 0.0  # Rosenbrock's minimum, a=1


def test_grid_and_gaussians_refuse_sizes_beyond_reach():
    with pytest.raises(ValueError, match=r"Surface.grid: n must be <= 10000"):
        S.saddle().grid(2**63)
    with pytest.raises(ValueError, match="gaussians: wells holds a number too large"):
        S.gaussians(wells=((10**400, 0.0, 0.0, 1.0),))
